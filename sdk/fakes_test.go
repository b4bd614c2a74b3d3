package sdk_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	plugin "github.com/hashicorp/go-plugin"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
)

// fakeBase implements sdk.Plugin; Configure accepts {"fail_code": "..."}
// and then fails with that code, so tests can send every code over the wire.
type fakeBase struct {
	kind sdk.Kind
}

func (f fakeBase) Info(context.Context) (sdk.Info, error) {
	info := sdk.Info{Name: "fake-" + string(f.kind), Version: "0.0.1", Kind: f.kind, Capabilities: []string{"test"}}
	if f.kind != sdk.KindLLM {
		info.AudioFormats = []sdk.AudioFormat{{Encoding: sdk.EncodingPCM16LE, SampleRate: 16000, Channels: 1}}
	}
	return info, nil
}

type fakeSettings struct {
	Error *struct {
		Code       sdk.Code          `json:"code"`
		Message    string            `json:"message"`
		Details    map[string]string `json:"details"`
		RetryAfter time.Duration     `json:"retry_after"`
	} `json:"error"`
	Plain string `json:"plain"`
}

func (f fakeBase) Configure(_ context.Context, settings json.RawMessage) error {
	var s fakeSettings
	if err := json.Unmarshal(settings, &s); err != nil {
		return sdk.InvalidField("settings", "not JSON: %s", err.Error())
	}
	switch {
	case s.Error != nil:
		return fmt.Errorf("wrapped: %w", &sdk.Error{
			Code: s.Error.Code, Message: s.Error.Message, Details: s.Error.Details, RetryAfter: s.Error.RetryAfter,
		})
	case s.Plain != "":
		return fmt.Errorf("%s", s.Plain) //nolint:err113 // a plain error on purpose.
	}
	return nil
}

// fakeSTT emits a partial per audio chunk and a final per flush, both with
// the byte count as text; audio starting with 0xFF fails the stream.
type fakeSTT struct{ fakeBase }

func (fakeSTT) Transcribe(ctx context.Context, cfg sdk.STTConfig) (sdk.STTStream, error) {
	if cfg.SampleRate != 16000 {
		return nil, sdk.InvalidField("sample_rate", "want 16000, got %d", cfg.SampleRate)
	}
	return sdk.NewSTTStream(ctx, func(ctx context.Context, in <-chan sdk.STTInput, emit func(sdk.TranscriptEvent) error) error {
		n := 0
		for msg := range in {
			if len(msg.Audio) > 0 && msg.Audio[0] == 0xFF {
				return &sdk.Error{Code: sdk.CodeResourceExhausted, Message: "quota", RetryAfter: 1500 * time.Millisecond}
			}
			n += len(msg.Audio)
			ev := sdk.TranscriptEvent{Text: fmt.Sprint(n), Final: msg.Flush, Confidence: 0.5, End: time.Duration(n/32) * time.Millisecond}
			if msg.Flush || cfg.InterimResults {
				if err := emit(ev); err != nil {
					return err
				}
			}
		}
		return emit(sdk.TranscriptEvent{Text: fmt.Sprint(n), Final: true})
	}), nil
}

// fakeTTS speaks every text chunk at once as 10 ms of silence per byte.
type fakeTTS struct{ fakeBase }

func (fakeTTS) Synthesize(ctx context.Context, cfg sdk.TTSConfig) (sdk.TTSStream, error) {
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
		return nil
	}), nil
}

// fakeLLM echoes the last message word by word; "tool" asks for a tool and
// "block" waits for cancellation after the first delta.
type fakeLLM struct{ fakeBase }

func (fakeLLM) Generate(ctx context.Context, req sdk.GenerateRequest) (sdk.LLMStream, error) {
	if len(req.Messages) == 0 {
		return nil, sdk.InvalidField("messages", "empty")
	}
	last := req.Messages[len(req.Messages)-1].Content
	return sdk.NewLLMStream(ctx, func(ctx context.Context, emit func(sdk.GenerateEvent) error) error {
		if err := emit(sdk.GenerateEvent{TextDelta: last}); err != nil {
			return err
		}
		switch last {
		case "block":
			<-ctx.Done()
			return ctx.Err()
		case "tool":
			if err := emit(sdk.GenerateEvent{ToolCall: &sdk.ToolCall{ID: "c1", Name: req.Tools[0].Name, Arguments: json.RawMessage(`{"q":1}`)}}); err != nil {
				return err
			}
			return emit(sdk.GenerateEvent{Done: &sdk.Done{StopReason: sdk.StopToolUse, Usage: sdk.Usage{InputTokens: 3, OutputTokens: 4}}})
		}
		return emit(sdk.GenerateEvent{Done: &sdk.Done{StopReason: sdk.StopEndTurn, Usage: sdk.Usage{InputTokens: 1, OutputTokens: 2}}})
	}), nil
}

// dispense serves cfg in-process over go-plugin's test gRPC connection and
// returns the host-side client for kind.
func dispense(t *testing.T, cfg sdk.ServeConfig, kind sdk.Kind) any {
	t.Helper()
	set, err := cfg.PluginSet()
	require.NoError(t, err)
	client, server := plugin.TestPluginGRPCConn(t, false, set)
	t.Cleanup(func() {
		// Stop first: Close asks the server to stop too, and go-plugin's
		// Stop is not safe to run twice at once.
		server.Stop()
		_ = client.Close()
	})
	raw, err := client.Dispense(string(kind))
	require.NoError(t, err)
	return raw
}
