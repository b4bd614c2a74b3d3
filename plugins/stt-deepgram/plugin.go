package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/sdk/pluginconfig"
	"github.com/parleyhq/parley/sdk/providerhttp"
	"github.com/parleyhq/parley/sdk/tracing"
)

// Plugin identity.
const (
	pluginName    = "stt-deepgram"
	pluginVersion = "0.1.0"
	providerName  = "deepgram"
)

// Capabilities reported by Info.
const (
	capabilityInterimResults = "interim_results"
	capabilityStreaming      = "streaming"
)

// defaultSampleRate is used when the host does not give a rate.
const defaultSampleRate = 16000

// maxMessageBytes bounds one message from Deepgram (a Results message with
// word timings for a long utterance is a few tens of KiB).
const maxMessageBytes = 1 << 20

// plugin implements sdk.STT with Deepgram's live streaming WebSocket API.
type plugin struct {
	logger *slog.Logger
	getenv func(string) string

	mu  sync.Mutex
	cfg *config // nil until Configure succeeds
}

// config is a validated configuration ready for use by streams.
type config struct {
	settings
	apiKey string
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
	return sdk.Info{
		Name:         pluginName,
		Version:      pluginVersion,
		Kind:         sdk.KindSTT,
		Capabilities: []string{capabilityStreaming, capabilityInterimResults},
		AudioFormats: []sdk.AudioFormat{
			{Encoding: sdk.EncodingPCM16LE, SampleRate: 8000, Channels: 1},
			{Encoding: sdk.EncodingPCM16LE, SampleRate: 16000, Channels: 1},
			{Encoding: sdk.EncodingPCM16LE, SampleRate: 24000, Channels: 1},
			{Encoding: sdk.EncodingPCM16LE, SampleRate: 48000, Channels: 1},
		},
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
		ConnectTimeout: time.Duration(s.ConnectTimeout),
		HTTP1Only:      true,
	})
	c := &config{settings: s, apiKey: key, client: &http.Client{Transport: tracing.Transport(transport)}}
	p.mu.Lock()
	p.cfg = c
	p.mu.Unlock()
	p.logger.Info("configured", "plugin", pluginName, "model", s.Model, "language", s.Language, "base_url", s.BaseURL)
	return nil
}

// Transcribe opens a Deepgram live stream. The WebSocket handshake happens
// here, so a refused key or a rate limit fails Transcribe itself.
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
	if rate < 0 {
		return nil, sdk.InvalidField("sample_rate", "must be positive")
	}
	lang := c.Language
	if sc.Language != "" {
		lang = sc.Language
	}
	endpoint, err := listenURL(c.settings, rate, lang, sc.InterimResults)
	if err != nil {
		return nil, err
	}

	dialCtx, cancel := context.WithTimeout(ctx, time.Duration(c.ConnectTimeout))
	defer cancel()
	conn, resp, err := websocket.Dial(dialCtx, endpoint, &websocket.DialOptions{
		HTTPClient: c.client,
		HTTPHeader: http.Header{"Authorization": {"Token " + c.apiKey}},
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, providerhttp.ErrorFromResponse(providerName, resp)
		}
		if ctx.Err() == nil && dialCtx.Err() != nil {
			return nil, providerhttp.Unavailable(providerName, "connect timeout", err)
		}
		return nil, providerhttp.ErrorFromTransport(ctx, providerName, err)
	}
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	conn.SetReadLimit(maxMessageBytes)
	p.logger.Debug("stream opened", "plugin", pluginName, "sample_rate", rate, "language", lang,
		"request_id", resp.Header.Get("dg-request-id"))

	s := &session{
		conn:       conn,
		logger:     p.logger,
		interim:    sc.InterimResults,
		keepAlive:  time.Duration(c.KeepAliveInterval),
		closeAfter: time.Duration(c.CloseTimeout),
	}
	return sdk.NewSTTStream(ctx, s.run), nil
}

// listenURL builds the /v1/listen URL with the stream's parameters.
func listenURL(s settings, rate int, lang string, interim bool) (string, error) {
	u, err := url.Parse(strings.TrimSuffix(s.BaseURL, "/") + "/v1/listen")
	if err != nil {
		return "", sdk.InvalidField("base_url", "%s", err.Error())
	}
	q := url.Values{
		"encoding":        {"linear16"},
		"sample_rate":     {strconv.Itoa(rate)},
		"channels":        {"1"},
		"interim_results": {strconv.FormatBool(interim)},
		"model":           {s.Model},
	}
	if lang != "" {
		q.Set("language", lang)
	}
	if s.EndpointingMS > 0 {
		q.Set("endpointing", strconv.Itoa(s.EndpointingMS))
	} else {
		q.Set("endpointing", "false")
	}
	if s.UtteranceEndMS > 0 {
		q.Set("utterance_end_ms", strconv.Itoa(s.UtteranceEndMS))
		q.Set("interim_results", "true") // Deepgram requires it for UtteranceEnd
	}
	if s.SmartFormat {
		q.Set("smart_format", "true")
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// errNotSent marks a write that failed because the connection is gone.
var errNotSent = errors.New("deepgram: write failed")
