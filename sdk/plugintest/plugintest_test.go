package plugintest_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/sdk/plugintest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestGoodPluginsPass(t *testing.T) {
	opts := plugintest.Options{Settings: json.RawMessage(`{"greeting": "hi"}`)}
	t.Run("stt", func(t *testing.T) { plugintest.RunSTT(t, goodSTT{}, opts) })
	t.Run("tts", func(t *testing.T) { plugintest.RunTTS(t, goodTTS{}, opts) })
	t.Run("llm", func(t *testing.T) { plugintest.RunLLM(t, goodLLM{}, opts) })
}

func TestTone(t *testing.T) {
	a := plugintest.Tone(16000, time.Second)
	assert.Len(t, a, 32000, "1 s at 16 kHz is 32000 bytes")
	assert.Equal(t, a, plugintest.Tone(16000, time.Second), "deterministic")
	assert.NotEqual(t, make([]byte, len(a)), a, "not silence")
}

// brokenEnv names the broken plugin TestBrokenPluginHelper runs the suite
// against, in a child process: the suite must fail there.
const brokenEnv = "PARLEY_PLUGINTEST_BROKEN"

// TestSuiteCatchesBrokenPlugins runs the suite against plugins that break
// one rule each and checks that it fails, saying why.
func TestSuiteCatchesBrokenPlugins(t *testing.T) {
	tests := []struct {
		name string
		want string
	}{
		{"accepts-unknown-settings", "must fail"},
		{"wrong-error-code", "Configure error code"},
		{"wrong-kind", `serves the stt service but reports kind "tts"`},
		{"no-audio-formats", "lists its audio formats"},
		{"leaks-goroutine", "goroutines left after the stream ended"},
		{"never-ends", "the stream must end cleanly after CloseSend"},
		{"odd-pcm", "is not a whole number of samples"},
		{"span-beyond-text", "text end beyond"},
		{"no-done", "the last event must be Done"},
		{"two-fields", "more than one of TextDelta, ToolCall, Done"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestBrokenPluginHelper$", "-test.v")
			cmd.Env = append(os.Environ(), brokenEnv+"="+tt.name)
			out, err := cmd.CombinedOutput()
			require.Error(t, err, "the suite passed a broken plugin:\n%s", out)
			assert.Contains(t, string(out), tt.want)
		})
	}
}

// TestBrokenPluginHelper is the child process of TestSuiteCatchesBrokenPlugins.
func TestBrokenPluginHelper(t *testing.T) {
	name := os.Getenv(brokenEnv)
	if name == "" {
		t.Skip("runs only as the child process of TestSuiteCatchesBrokenPlugins")
	}
	opts := plugintest.Options{Timeout: time.Second}
	switch name {
	case "accepts-unknown-settings":
		plugintest.RunSTT(t, lax{goodSTT{}}, opts)
	case "wrong-error-code":
		plugintest.RunSTT(t, internalErr{goodSTT{}}, opts)
	case "wrong-kind":
		plugintest.RunSTT(t, wrongKind{goodSTT{}}, opts)
	case "no-audio-formats":
		plugintest.RunTTS(t, noFormats{goodTTS{}}, opts)
	case "leaks-goroutine":
		plugintest.RunSTT(t, leaky{goodSTT{}, make(chan struct{})}, opts)
	case "never-ends":
		plugintest.RunSTT(t, neverEnds{goodSTT{}}, opts)
	case "odd-pcm":
		plugintest.RunTTS(t, oddPCM{goodTTS{}}, opts)
	case "span-beyond-text":
		plugintest.RunTTS(t, farSpan{goodTTS{}}, opts)
	case "no-done":
		plugintest.RunLLM(t, llmEvents{goodLLM{}, []sdk.GenerateEvent{{TextDelta: "hi"}}}, opts)
	case "two-fields":
		plugintest.RunLLM(t, llmEvents{goodLLM{}, []sdk.GenerateEvent{
			{TextDelta: "hi", Done: &sdk.Done{StopReason: sdk.StopEndTurn}},
		}}, opts)
	default:
		t.Fatalf("unknown broken plugin %q", name)
	}
}

type lax struct{ goodSTT }

func (lax) Configure(context.Context, json.RawMessage) error { return nil }

type internalErr struct{ goodSTT }

func (internalErr) Configure(_ context.Context, raw json.RawMessage) error {
	if err := strictConfigure(raw); err != nil {
		return sdk.Errorf(sdk.CodeInternal, "nope: %s", err.Error())
	}
	return nil
}

type wrongKind struct{ goodSTT }

func (wrongKind) Info(context.Context) (sdk.Info, error) { return audioInfo("x", sdk.KindTTS), nil }

type noFormats struct{ goodTTS }

func (noFormats) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "x", Version: "1", Kind: sdk.KindTTS}, nil
}

// leaky starts a worker per stream that nothing stops.
type leaky struct {
	goodSTT
	never chan struct{}
}

func (l leaky) Transcribe(ctx context.Context, cfg sdk.STTConfig) (sdk.STTStream, error) {
	go func() { <-l.never }()
	return l.goodSTT.Transcribe(ctx, cfg)
}

// neverEnds ignores CloseSend and waits for its context.
type neverEnds struct{ goodSTT }

func (neverEnds) Transcribe(ctx context.Context, _ sdk.STTConfig) (sdk.STTStream, error) {
	return sdk.NewSTTStream(ctx, func(ctx context.Context, in <-chan sdk.STTInput, _ func(sdk.TranscriptEvent) error) error {
		for range in { //nolint:revive // discard all input
		}
		<-ctx.Done()
		return ctx.Err()
	}), nil
}

type oddPCM struct{ goodTTS }

func (oddPCM) Synthesize(ctx context.Context, cfg sdk.TTSConfig) (sdk.TTSStream, error) {
	return sdk.NewTTSStream(ctx, func(_ context.Context, in <-chan sdk.TTSInput, emit func(sdk.AudioChunk) error) error {
		for msg := range in {
			if msg.Flush {
				if err := emit(sdk.AudioChunk{PCM: make([]byte, 3), SampleRate: cfg.SampleRate}); err != nil {
					return err
				}
			}
		}
		return nil
	}), nil
}

type farSpan struct{ goodTTS }

func (farSpan) Synthesize(ctx context.Context, cfg sdk.TTSConfig) (sdk.TTSStream, error) {
	return sdk.NewTTSStream(ctx, func(_ context.Context, in <-chan sdk.TTSInput, emit func(sdk.AudioChunk) error) error {
		for msg := range in {
			if msg.Flush {
				if err := emit(sdk.AudioChunk{PCM: make([]byte, 2), SampleRate: cfg.SampleRate, TextEnd: 1 << 20}); err != nil {
					return err
				}
			}
		}
		return nil
	}), nil
}

type llmEvents struct {
	goodLLM
	events []sdk.GenerateEvent
}

func (l llmEvents) Generate(ctx context.Context, _ sdk.GenerateRequest) (sdk.LLMStream, error) {
	return sdk.NewLLMStream(ctx, func(_ context.Context, emit func(sdk.GenerateEvent) error) error {
		for _, ev := range l.events {
			if err := emit(ev); err != nil {
				return err
			}
		}
		return nil
	}), nil
}
