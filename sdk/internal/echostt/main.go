// Command echostt is an STT plugin that answers every audio chunk at once
// with a partial transcript (and every flush with a final one). The sdk's
// round-trip benchmark runs it as a real plugin process. By default it is
// written with sdk.NewSTTStream; with ECHOSTT_DIRECT=1 in its environment
// it answers from SendAudio itself, without the helper's goroutine, so the
// benchmark can price that hop.
package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"strconv"

	"github.com/parleyhq/parley/sdk"
)

// echo implements sdk.STT.
type echo struct{}

func (echo) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "echostt", Version: "1.0.0", Kind: sdk.KindSTT,
		AudioFormats: []sdk.AudioFormat{{Encoding: sdk.EncodingPCM16LE, SampleRate: 16000, Channels: 1}}}, nil
}

func (echo) Configure(_ context.Context, raw json.RawMessage) error {
	if len(raw) > 0 && string(raw) != "{}" {
		return sdk.Errorf(sdk.CodeInvalidArgument, "echostt takes no settings")
	}
	return nil
}

func (echo) Transcribe(ctx context.Context, _ sdk.STTConfig) (sdk.STTStream, error) {
	return sdk.NewSTTStream(ctx, func(ctx context.Context, in <-chan sdk.STTInput, emit func(sdk.TranscriptEvent) error) error {
		n := 0
		for msg := range in {
			n += len(msg.Audio)
			if err := emit(sdk.TranscriptEvent{Text: strconv.Itoa(n), Final: msg.Flush}); err != nil {
				return err
			}
		}
		return ctx.Err()
	}), nil
}

// directBacklog bounds the events a direct stream buffers between
// SendAudio and Recv.
const directBacklog = 64

// direct is echo without the NewSTTStream goroutine.
type direct struct{ echo }

func (direct) Transcribe(ctx context.Context, _ sdk.STTConfig) (sdk.STTStream, error) {
	return &directStream{ctx: ctx, out: make(chan sdk.TranscriptEvent, directBacklog)}, nil
}

// directStream answers in SendAudio; out is closed by CloseSend.
type directStream struct {
	ctx context.Context //nolint:containedctx // the stream lives exactly as long as its context.
	out chan sdk.TranscriptEvent
	n   int
}

func (s *directStream) push(ev sdk.TranscriptEvent) error {
	select {
	case s.out <- ev:
		return nil
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
}

func (s *directStream) SendAudio(pcm []byte) error {
	s.n += len(pcm)
	return s.push(sdk.TranscriptEvent{Text: strconv.Itoa(s.n)})
}

func (s *directStream) Flush() error {
	return s.push(sdk.TranscriptEvent{Text: strconv.Itoa(s.n), Final: true})
}

func (s *directStream) CloseSend() error {
	close(s.out)
	return nil
}

func (s *directStream) Recv() (sdk.TranscriptEvent, error) {
	select {
	case ev, ok := <-s.out:
		if !ok {
			return sdk.TranscriptEvent{}, io.EOF
		}
		return ev, nil
	case <-s.ctx.Done():
		return sdk.TranscriptEvent{}, s.ctx.Err()
	}
}

func main() {
	if os.Getenv("ECHOSTT_DIRECT") == "1" {
		sdk.Serve(sdk.ServeConfig{STT: direct{}})
		return
	}
	sdk.Serve(sdk.ServeConfig{STT: echo{}})
}
