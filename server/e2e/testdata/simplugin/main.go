// Command simplugin is a cheap, deterministic Parley plugin for the fault
// suite, so that twenty sessions can talk at once on a small machine while
// its processes are killed. It serves the kind given by -kind:
//
//   - stt: counts the audio it receives; a partial every
//     partialEveryFrames frames, and on the end of the audio one final,
//     "heard <frames> frames". The same audio always gives the same final,
//     so a replayed utterance is recognised exactly as the original.
//   - llm: answers the last user message with three sentences, word by
//     word, word_delay_ms apart (Configure), as a hosted model streams.
//
// It imports only the sdk, like any plugin.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/parleyhq/parley/sdk"
)

const (
	// frameBytes is one 20 ms frame of 16 kHz PCM16.
	frameBytes         = 640
	partialEveryFrames = 10
)

func main() {
	kind := flag.String("kind", "stt", "plugin kind to serve: stt or llm")
	flag.Parse()
	switch sdk.Kind(*kind) {
	case sdk.KindSTT:
		sdk.Serve(sdk.ServeConfig{STT: &stt{}})
	case sdk.KindLLM:
		sdk.Serve(sdk.ServeConfig{LLM: &llm{}})
	default:
		fmt.Fprintf(os.Stderr, "simplugin: unknown kind %q\n", *kind)
		os.Exit(2)
	}
}

type stt struct{}

func (*stt) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "simplugin", Version: "1", Kind: sdk.KindSTT}, nil
}

func (*stt) Configure(context.Context, json.RawMessage) error { return nil }

func (*stt) Transcribe(ctx context.Context, cfg sdk.STTConfig) (sdk.STTStream, error) {
	return sdk.NewSTTStream(ctx, func(_ context.Context, in <-chan sdk.STTInput, emit func(sdk.TranscriptEvent) error) error {
		total, sent := 0, 0
		for msg := range in {
			total += len(msg.Audio)
			if f := total / frameBytes; cfg.InterimResults && f/partialEveryFrames > sent {
				sent = f / partialEveryFrames
				if err := emit(sdk.TranscriptEvent{Text: fmt.Sprintf("heard %d", f)}); err != nil {
					return err
				}
			}
		}
		return emit(sdk.TranscriptEvent{Text: fmt.Sprintf("heard %d frames", total/frameBytes), Final: true, Confidence: 1})
	}), nil
}

type llm struct {
	mu    sync.Mutex
	delay time.Duration
}

func (*llm) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "simplugin", Version: "1", Kind: sdk.KindLLM}, nil
}

func (l *llm) Configure(_ context.Context, raw json.RawMessage) error {
	var s struct {
		WordDelayMS int `json:"word_delay_ms"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return sdk.Errorf(sdk.CodeInvalidArgument, "settings: %v", err)
	}
	l.mu.Lock()
	l.delay = time.Duration(s.WordDelayMS) * time.Millisecond
	l.mu.Unlock()
	return nil
}

func (l *llm) Generate(ctx context.Context, req sdk.GenerateRequest) (sdk.LLMStream, error) {
	l.mu.Lock()
	delay := l.delay
	l.mu.Unlock()
	last := ""
	for _, m := range req.Messages {
		if m.Role == sdk.RoleUser {
			last = m.Content
		}
	}
	reply := "You said " + last + ". This reply has a second sentence. And it ends with a third one."
	return sdk.NewLLMStream(ctx, func(ctx context.Context, emit func(sdk.GenerateEvent) error) error {
		t := time.NewTicker(max(delay, time.Millisecond))
		defer t.Stop()
		for i, w := range strings.Fields(reply) {
			if i > 0 {
				w = " " + w
				select {
				case <-t.C:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			if err := emit(sdk.GenerateEvent{TextDelta: w}); err != nil {
				return err
			}
		}
		return emit(sdk.GenerateEvent{Done: &sdk.Done{StopReason: sdk.StopEndTurn}})
	}), nil
}
