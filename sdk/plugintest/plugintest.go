// Package plugintest is the conformance suite for Parley plugins. Vendors
// call it from their own tests:
//
//	func TestConformance(t *testing.T) {
//		plugintest.RunSTT(t, myplugin.New(), plugintest.Options{Settings: []byte(`{"model":"small"}`)})
//	}
//
// RunSTT, RunLLM and RunTTS serve the implementation in-process over
// go-plugin's test gRPC connection, so the real sdk gRPC adapters are
// exercised; RunBinary launches the built plugin binary through go-plugin
// exactly as the Parley host does (AutoMTLS, gRPC only, versioned plugin
// sets, no inherited environment) and runs the suite for the kind the
// plugin reports.
//
// The suite checks: Info is valid; Configure accepts Options.Settings and
// rejects Options.BadSettings with CodeInvalidArgument (the code survives
// the wire); streams work end to end; cancelling the context mid-stream
// makes Recv return a Canceled error within CancelBound; a deadline surfaces
// as DeadlineExceeded; no goroutine is left behind after a stream ends.
// The goroutine checks compare against the goroutines alive when each
// check starts, so do not run the suite in parallel with other tests.
package plugintest

import (
	"encoding/json"
	"time"

	"github.com/parleyhq/parley/sdk"
)

const (
	// CancelBound is how long Recv may take to return after the stream's
	// context is cancelled. It bounds a wait; it is not a timing benchmark.
	CancelBound = 100 * time.Millisecond

	// DefaultTimeout bounds every check of the suite unless Options.Timeout
	// is set, so that a hung plugin fails the test instead of hanging it.
	DefaultTimeout = 30 * time.Second

	// DefaultSampleRate is the sample rate of the default STT audio and the
	// default STT and TTS stream configs: Parley's internal format.
	DefaultSampleRate = 16000

	// DefaultText is what the TTS checks speak unless Options.Text is set.
	DefaultText = "Hello from the Parley conformance suite. This is the second sentence."

	// frameDuration is the frame size the STT checks send audio in.
	frameDuration = 20 * time.Millisecond
	// bytesPerSample is the size of one PCM16 sample.
	bytesPerSample = 2
	// maxSampleRate and minSampleRate bound sane audio formats.
	minSampleRate = 8000
	maxSampleRate = 48000
)

// DefaultBadSettings is the settings object Configure must reject when
// Options.BadSettings is nil: plugins must refuse unknown fields.
const DefaultBadSettings = `{"parley_conformance_unknown_field": true}`

// Options tune the suite for one plugin. The zero value works for a plugin
// that needs no settings and speaks Parley's internal audio format.
type Options struct {
	// Settings is a valid settings object passed to Configure before the
	// stream checks; nil means `{}`.
	Settings json.RawMessage
	// BadSettings must be rejected by Configure with CodeInvalidArgument;
	// nil means DefaultBadSettings.
	BadSettings json.RawMessage
	// Env is the environment of the plugin process (KEY=VALUE), RunBinary
	// only: the test's own environment is not inherited, as in Parley.
	Env []string
	// Timeout bounds each check; zero means DefaultTimeout.
	Timeout time.Duration

	// STTConfig opens the STT streams; nil means 16 kHz PCM16LE, "en-US",
	// interim results on.
	STTConfig *sdk.STTConfig
	// Audio is sent to STT streams in the STTConfig format; nil means one
	// second of Tone at 16 kHz. Not every recognizer finds words in it: the
	// suite checks the protocol, not the transcript.
	Audio []byte

	// TTSConfig opens the TTS streams; nil means 16 kHz PCM16LE and the
	// plugin's default voice.
	TTSConfig *sdk.TTSConfig
	// Text is spoken by the TTS checks; empty means DefaultText.
	Text string

	// Request is sent to LLM.Generate; nil means one short user message.
	Request *sdk.GenerateRequest
}

func (o Options) settings() json.RawMessage {
	if o.Settings == nil {
		return json.RawMessage(`{}`)
	}
	return o.Settings
}

func (o Options) badSettings() json.RawMessage {
	if o.BadSettings == nil {
		return json.RawMessage(DefaultBadSettings)
	}
	return o.BadSettings
}

func (o Options) timeout() time.Duration {
	if o.Timeout <= 0 {
		return DefaultTimeout
	}
	return o.Timeout
}

func (o Options) sttConfig() sdk.STTConfig {
	if o.STTConfig != nil {
		return *o.STTConfig
	}
	return sdk.STTConfig{SampleRate: DefaultSampleRate, Encoding: sdk.EncodingPCM16LE, Language: "en-US", InterimResults: true}
}

func (o Options) audio() []byte {
	if o.Audio != nil {
		return o.Audio
	}
	return Tone(DefaultSampleRate, time.Second)
}

func (o Options) ttsConfig() sdk.TTSConfig {
	if o.TTSConfig != nil {
		return *o.TTSConfig
	}
	return sdk.TTSConfig{SampleRate: DefaultSampleRate, Encoding: sdk.EncodingPCM16LE}
}

func (o Options) text() string {
	if o.Text == "" {
		return DefaultText
	}
	return o.Text
}

func (o Options) request() sdk.GenerateRequest {
	if o.Request != nil {
		return *o.Request
	}
	return sdk.GenerateRequest{
		Messages:  []sdk.Message{{Role: sdk.RoleUser, Content: "Say hello in five words or fewer."}},
		MaxTokens: 32,
	}
}
