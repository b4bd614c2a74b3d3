package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/sdk/pluginconfig"
	"github.com/parleyhq/parley/sdk/providerhttp"
	"github.com/parleyhq/parley/sdk/tracing"
)

// Plugin identity.
const (
	pluginName    = "stt-openai"
	pluginVersion = "0.1.0"
	providerName  = "openai"
)

// capabilityFinalOnly says the plugin emits one final transcript per
// utterance and never partials, whatever STTConfig.InterimResults says.
const capabilityFinalOnly = "final_only"

// defaultSampleRate is used when the host does not give a rate.
const defaultSampleRate = 16000

// Sample rate bounds accepted for uploads.
const (
	minRate = 8000
	maxRate = 48000
)

// bytesPerSample is the size of one PCM16 sample.
const bytesPerSample = 2

// plugin implements sdk.STT with OpenAI's (or a whisper-compatible
// server's) /audio/transcriptions endpoint, one request per utterance.
type plugin struct {
	logger *slog.Logger
	getenv func(string) string

	mu  sync.Mutex
	cfg *config // nil until Configure succeeds
}

// config is a validated configuration ready for use by streams.
type config struct {
	settings
	apiKey string // empty: no Authorization header
	client *http.Client
}

var _ sdk.STT = (*plugin)(nil)

// newPlugin returns an unconfigured plugin. getenv reads the environment
// variable that holds the API key.
func newPlugin(logger *slog.Logger, getenv func(string) string) *plugin {
	return &plugin{logger: logger, getenv: getenv}
}

// Info describes the plugin.
func (p *plugin) Info(context.Context) (sdk.Info, error) {
	var formats []sdk.AudioFormat
	for _, r := range []int{8000, 16000, 24000, 48000} {
		formats = append(formats, sdk.AudioFormat{Encoding: sdk.EncodingPCM16LE, SampleRate: r, Channels: 1})
	}
	return sdk.Info{
		Name:         pluginName,
		Version:      pluginVersion,
		Kind:         sdk.KindSTT,
		Capabilities: []string{capabilityFinalOnly},
		AudioFormats: formats,
	}, nil
}

// Configure validates and applies settings. The API key comes from the
// environment variable named by api_key_env; it is required for
// api.openai.com and optional for other (whisper-compatible) servers.
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
		ConnectTimeout: time.Duration(s.ConnectTimeout),
	})
	c := &config{settings: s, apiKey: key, client: &http.Client{Transport: tracing.Transport(transport)}}
	p.mu.Lock()
	old := p.cfg
	p.cfg = c
	p.mu.Unlock()
	if old != nil {
		old.client.CloseIdleConnections()
	}
	p.logger.Info("configured", "plugin", pluginName, "model", s.Model, "base_url", s.BaseURL, "api_key_set", key != "")
	return nil
}

// Transcribe opens a recognition stream. Audio is buffered per utterance
// and uploaded on Flush, on CloseSend, or when it reaches
// max_utterance_seconds.
func (p *plugin) Transcribe(ctx context.Context, sc sdk.STTConfig) (sdk.STTStream, error) {
	p.mu.Lock()
	c := p.cfg
	p.mu.Unlock()
	if c == nil {
		return nil, sdk.Errorf(sdk.CodeFailedPrecondition, "%s: not configured", pluginName)
	}
	if sc.Encoding != "" && sc.Encoding != sdk.EncodingPCM16LE {
		return nil, sdk.InvalidField("encoding", "%q is not supported (only %s)", sc.Encoding, sdk.EncodingPCM16LE)
	}
	rate := sc.SampleRate
	if rate == 0 {
		rate = defaultSampleRate
	}
	if rate < minRate || rate > maxRate {
		return nil, sdk.InvalidField("sample_rate", "%d Hz is outside %d–%d", rate, minRate, maxRate)
	}
	maxBytes := int(c.MaxUtteranceSeconds*float64(rate)) * bytesPerSample
	if maxBytes+wavHeaderBytes > maxUploadBytes {
		return nil, sdk.InvalidField("max_utterance_seconds", "%.0f s at %d Hz exceeds the 25 MB upload limit", c.MaxUtteranceSeconds, rate)
	}
	lang := c.Language
	if sc.Language != "" {
		lang = sc.Language
	}
	s := &session{
		cfg:      c,
		logger:   p.logger,
		rate:     rate,
		language: isoLanguage(lang),
		maxBytes: maxBytes,
	}
	return sdk.NewSTTStream(ctx, s.run), nil
}

// isoLanguage turns a BCP 47 tag ("en-US") into the ISO-639-1 code the
// transcription API takes ("en").
func isoLanguage(tag string) string {
	base, _, _ := strings.Cut(tag, "-")
	base, _, _ = strings.Cut(base, "_")
	return strings.ToLower(strings.TrimSpace(base))
}
