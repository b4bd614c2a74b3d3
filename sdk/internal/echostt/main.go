// Command echostt is an STT plugin that answers every audio chunk at once
// with a partial transcript (and every flush with a final one). The sdk's
// round-trip benchmark runs it as a real plugin process.
package main

import (
	"context"
	"encoding/json"
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

func main() { sdk.Serve(sdk.ServeConfig{STT: echo{}}) }
