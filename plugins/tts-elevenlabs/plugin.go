package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/sdk/pluginconfig"
	"github.com/parleyhq/parley/sdk/providerhttp"
	"github.com/parleyhq/parley/sdk/tracing"
)

// Plugin identity.
const (
	pluginName    = "tts-elevenlabs"
	pluginVersion = "0.1.0"
	providerName  = "elevenlabs"
)

// capabilitySentenceStreaming says the plugin takes LLM text deltas and
// speaks them sentence by sentence, reporting each chunk's text span.
const capabilitySentenceStreaming = "sentence_streaming"

// defaultSampleRate is used when the host does not ask for a rate.
const defaultSampleRate = 16000

// supportedRates are the PCM output formats of the stream endpoint
// (output_format=pcm_<rate>).
var supportedRates = []int{8000, 16000, 22050, 24000, 44100} //nolint:gochecknoglobals // read-only table.

// plugin implements sdk.TTS with ElevenLabs' streaming HTTP endpoint.
type plugin struct {
	logger *slog.Logger
	getenv func(string) string

	mu  sync.Mutex
	cfg *config // nil until Configure succeeds
}

// config is a validated configuration ready for use by streams.
type config struct {
	settings
	apiKey   string
	client   *http.Client // HTTP mode
	wsClient *http.Client // WebSocket mode (HTTP/1.1 only)
}

var _ sdk.TTS = (*plugin)(nil)

// newPlugin returns an unconfigured plugin. getenv reads the environment
// variable that holds the API key.
func newPlugin(logger *slog.Logger, getenv func(string) string) *plugin {
	return &plugin{logger: logger, getenv: getenv}
}

// Info describes the plugin.
func (p *plugin) Info(context.Context) (sdk.Info, error) {
	formats := make([]sdk.AudioFormat, 0, len(supportedRates))
	for _, r := range supportedRates {
		formats = append(formats, sdk.AudioFormat{Encoding: sdk.EncodingPCM16LE, SampleRate: r, Channels: 1})
	}
	return sdk.Info{
		Name:         pluginName,
		Version:      pluginVersion,
		Kind:         sdk.KindTTS,
		Capabilities: []string{capabilitySentenceStreaming},
		AudioFormats: formats,
	}, nil
}

// Configure validates and applies settings. The API key is read from the
// environment variable named by api_key_env and is required.
func (p *plugin) Configure(_ context.Context, raw json.RawMessage) error {
	s, err := parseSettings(raw)
	if err != nil {
		return err
	}
	key, err := pluginconfig.APIKey(p.getenv, "api_key_env", s.APIKeyEnv, true)
	if err != nil {
		return err
	}
	transport := providerhttp.NewTransport(providerhttp.TransportOptions{
		ConnectTimeout:        time.Duration(s.ConnectTimeout),
		ResponseHeaderTimeout: time.Duration(s.IdleTimeout),
	})
	// The WebSocket handshake needs HTTP/1.1: its client never negotiates h2.
	wsTransport := providerhttp.NewTransport(providerhttp.TransportOptions{
		ConnectTimeout:        time.Duration(s.ConnectTimeout),
		ResponseHeaderTimeout: time.Duration(s.IdleTimeout),
		HTTP1Only:             true,
	})
	c := &config{
		settings: s, apiKey: key,
		client:   &http.Client{Transport: tracing.Transport(transport)},
		wsClient: &http.Client{Transport: tracing.Transport(wsTransport)},
	}
	p.mu.Lock()
	old := p.cfg
	p.cfg = c
	p.mu.Unlock()
	if old != nil {
		old.client.CloseIdleConnections()
	}
	p.logger.Info("configured", "plugin", pluginName, "voice_id", s.VoiceID, "model_id", s.ModelID, "base_url", s.BaseURL)
	return nil
}

// Synthesize opens a synthesis stream. cfg.Voice overrides voice_id and
// cfg.Speed (clamped to ElevenLabs' 0.7–1.2) overrides voice_settings.speed.
func (p *plugin) Synthesize(ctx context.Context, tc sdk.TTSConfig) (sdk.TTSStream, error) {
	p.mu.Lock()
	c := p.cfg
	p.mu.Unlock()
	if c == nil {
		return nil, sdk.Errorf(sdk.CodeFailedPrecondition, "%s: not configured", pluginName)
	}
	if tc.Encoding != "" && tc.Encoding != sdk.EncodingPCM16LE {
		return nil, sdk.InvalidField("encoding", "%q is not supported (only %s)", tc.Encoding, sdk.EncodingPCM16LE)
	}
	rate := tc.SampleRate
	if rate == 0 {
		rate = defaultSampleRate
	}
	if !isSupportedRate(rate) {
		return nil, sdk.InvalidField("sample_rate", "%d Hz is not offered by ElevenLabs (use one of %v)", rate, supportedRates)
	}
	voice := c.VoiceID
	if tc.Voice != "" {
		voice = tc.Voice
	}
	vs := voiceSettings{}
	if c.VoiceSettings != nil {
		vs = *c.VoiceSettings
	}
	if tc.Speed != 0 {
		speed := min(max(float32To64(tc.Speed), minSpeed), maxSpeed)
		vs.Speed = &speed
	}
	params := streamParams{
		cfg:           c,
		logger:        p.logger,
		voiceID:       voice,
		outputFormat:  "pcm_" + strconv.Itoa(rate),
		sampleRate:    rate,
		voiceSettings: vs,
	}
	if c.Mode == modeWebSocket {
		return openWebSocket(ctx, params)
	}
	return newStream(ctx, params), nil
}

func isSupportedRate(rate int) bool {
	for _, r := range supportedRates {
		if r == rate {
			return true
		}
	}
	return false
}

// float32To64 widens f keeping its shortest decimal form (1.1, not
// 1.100000023841858), so the provider sees the value the host meant.
func float32To64(f float32) float64 {
	v, err := strconv.ParseFloat(strconv.FormatFloat(float64(f), 'g', -1, 32), 64)
	if err != nil {
		return float64(f)
	}
	return v
}
