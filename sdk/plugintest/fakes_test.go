package plugintest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"

	"github.com/parleyhq/parley/sdk"
)

// strictConfigure accepts only {"greeting": "..."}: unknown fields are
// rejected, as the suite demands.
func strictConfigure(raw json.RawMessage) error {
	var s struct {
		Greeting string `json:"greeting"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return sdk.Errorf(sdk.CodeInvalidArgument, "settings: %s", err.Error())
	}
	return nil
}

func audioInfo(name string, kind sdk.Kind) sdk.Info {
	return sdk.Info{Name: name, Version: "1.0.0", Kind: kind,
		AudioFormats: []sdk.AudioFormat{{Encoding: sdk.EncodingPCM16LE, SampleRate: 16000, Channels: 1}}}
}

// goodSTT reports the seconds of audio received: a partial per chunk, a
// final per flush and at the end.
type goodSTT struct{}

func (goodSTT) Info(context.Context) (sdk.Info, error) {
	return audioInfo("good-stt", sdk.KindSTT), nil
}
func (goodSTT) Configure(_ context.Context, raw json.RawMessage) error {
	return strictConfigure(raw)
}

func (goodSTT) Transcribe(ctx context.Context, cfg sdk.STTConfig) (sdk.STTStream, error) {
	return sdk.NewSTTStream(ctx, func(ctx context.Context, in <-chan sdk.STTInput, emit func(sdk.TranscriptEvent) error) error {
		var utt []byte
		for msg := range in {
			utt = append(utt, msg.Audio...)
			if msg.Flush || cfg.InterimResults {
				if err := emit(sdk.TranscriptEvent{Text: "audio", Final: msg.Flush, Confidence: 1}); err != nil {
					return err
				}
			}
			if msg.Flush {
				utt = utt[:0]
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		return emit(sdk.TranscriptEvent{Text: "audio", Final: true, Confidence: 1})
	}), nil
}

// goodTTS speaks every text chunk as 10 ms of silence per byte.
type goodTTS struct{}

func (goodTTS) Info(context.Context) (sdk.Info, error) {
	return audioInfo("good-tts", sdk.KindTTS), nil
}
func (goodTTS) Configure(_ context.Context, raw json.RawMessage) error {
	return strictConfigure(raw)
}

func (goodTTS) Synthesize(ctx context.Context, cfg sdk.TTSConfig) (sdk.TTSStream, error) {
	return sdk.NewTTSStream(ctx, func(ctx context.Context, in <-chan sdk.TTSInput, emit func(sdk.AudioChunk) error) error {
		off := 0
		for msg := range in {
			if msg.Text == "" {
				continue
			}
			pcm := make([]byte, len(msg.Text)*cfg.SampleRate/100*2)
			if err := emit(sdk.AudioChunk{PCM: pcm, SampleRate: cfg.SampleRate, TextStart: off, TextEnd: off + len(msg.Text)}); err != nil {
				return err
			}
			off += len(msg.Text)
		}
		return ctx.Err()
	}), nil
}

// goodLLM answers word by word, then Done.
type goodLLM struct{}

func (goodLLM) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "good-llm", Version: "1.0.0", Kind: sdk.KindLLM}, nil
}
func (goodLLM) Configure(_ context.Context, raw json.RawMessage) error { return strictConfigure(raw) }

func (goodLLM) Generate(ctx context.Context, _ sdk.GenerateRequest) (sdk.LLMStream, error) {
	return sdk.NewLLMStream(ctx, func(_ context.Context, emit func(sdk.GenerateEvent) error) error {
		for _, w := range strings.SplitAfter("hello there from a fake model", " ") {
			if err := emit(sdk.GenerateEvent{TextDelta: w}); err != nil {
				return err
			}
		}
		return emit(sdk.GenerateEvent{Done: &sdk.Done{StopReason: sdk.StopEndTurn}})
	}), nil
}
