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
	"github.com/parleyhq/parley/sdk/pcm"
	"github.com/parleyhq/parley/sdk/pluginconfig"
	"github.com/parleyhq/parley/sdk/providerhttp"
	"github.com/parleyhq/parley/sdk/tracing"
)

// Plugin identity.
const (
	pluginName    = "tts-openai"
	pluginVersion = "0.1.0"
	providerName  = "openai"
)

// capabilitySentenceStreaming says the plugin takes LLM text deltas and
// speaks them sentence by sentence, reporting each chunk's text span.
const capabilitySentenceStreaming = "sentence_streaming"

// Audio rates. /audio/speech with response_format=pcm returns 24 kHz
// 16-bit mono; other rates are resampled in the plugin.
const (
	nativeRate = 24000
	minRate    = 8000
	maxRate    = 48000
)

// plugin implements sdk.TTS with OpenAI's (or a compatible server's)
// /audio/speech endpoint.
type plugin struct {
	logger  *slog.Logger
	getenv  func(string) string
	filters pcm.FilterCache // resampling filters, shared by all streams

	mu  sync.Mutex
	cfg *config // nil until Configure succeeds
}

// config is a validated configuration ready for use by streams.
type config struct {
	settings
	apiKey string // empty: no Authorization header
	client *http.Client
}

var _ sdk.TTS = (*plugin)(nil)

// newPlugin returns an unconfigured plugin. getenv reads the environment
// variable that holds the API key.
func newPlugin(logger *slog.Logger, getenv func(string) string) *plugin {
	return &plugin{logger: logger, getenv: getenv}
}

// Info describes the plugin.
func (p *plugin) Info(context.Context) (sdk.Info, error) {
	var formats []sdk.AudioFormat
	for _, r := range []int{nativeRate, 8000, 16000, 22050, 44100, 48000} {
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

// Configure validates and applies settings. The API key comes from the
// environment variable named by api_key_env; it is required for
// api.openai.com and optional for other (compatible, local) servers.
func (p *plugin) Configure(_ context.Context, raw json.RawMessage) error {
	s, err := parseSettings(raw)
	if err != nil {
		return err
	}
	key, err := pluginconfig.APIKey(p.getenv, "api_key_env", s.APIKeyEnv, s.keyRequired())
	if err != nil {
		return err
	}
	transport := providerhttp.NewTransport(providerhttp.TransportOptions{
		ConnectTimeout:        time.Duration(s.ConnectTimeout),
		ResponseHeaderTimeout: time.Duration(s.IdleTimeout),
	})
	c := &config{settings: s, apiKey: key, client: &http.Client{Transport: tracing.Transport(transport)}}
	p.mu.Lock()
	old := p.cfg
	p.cfg = c
	p.mu.Unlock()
	if old != nil {
		old.client.CloseIdleConnections()
	}
	p.logger.Info("configured", "plugin", pluginName, "model", s.Model, "voice", s.Voice,
		"base_url", s.BaseURL, "api_key_set", key != "")
	return nil
}

// Synthesize opens a synthesis stream. cfg.Voice overrides voice and
// cfg.Speed (clamped to 0.25–4.0) overrides speed. A sample rate of 0
// means the native 24 kHz.
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
		rate = nativeRate
	}
	if rate < minRate || rate > maxRate {
		return nil, sdk.InvalidField("sample_rate", "%d Hz is outside %d–%d", rate, minRate, maxRate)
	}
	var resample *pcm.Filter
	if rate != nativeRate {
		f, err := p.filters.Get(nativeRate, rate)
		if err != nil {
			return nil, sdk.InvalidField("sample_rate", "%d Hz cannot be made from %d Hz: %s", rate, nativeRate, err.Error())
		}
		resample = f
	}
	voice := c.Voice
	if tc.Voice != "" {
		voice = tc.Voice
	}
	speed := c.Speed
	if tc.Speed != 0 {
		speed = min(max(float32To64(tc.Speed), minSpeed), maxSpeed)
	}
	return newStream(ctx, streamParams{
		cfg: c, logger: p.logger, voice: voice, speed: speed, sampleRate: rate, resample: resample,
	}), nil
}

// float32To64 widens f keeping its shortest decimal form (1.1, not
// 1.100000023841858), so the server sees the value the host meant.
func float32To64(f float32) float64 {
	v, err := strconv.ParseFloat(strconv.FormatFloat(float64(f), 'g', -1, 32), 64)
	if err != nil {
		return float64(f)
	}
	return v
}
