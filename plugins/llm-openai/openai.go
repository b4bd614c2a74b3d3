// Command llm-openai is a Parley LLM plugin that streams replies from an
// OpenAI Chat Completions endpoint
// (https://platform.openai.com/docs/api-reference/chat): OpenAI itself or a
// compatible local server (Ollama, vLLM, llama.cpp, LM Studio).
//
// The API key, when one is needed, is read from the environment variable
// named by the `api_key_env` setting (OPENAI_API_KEY by default); it never
// appears in settings or logs.
package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/sdk/providerhttp"
	"github.com/parleyhq/parley/sdk/tracing"
)

// Plugin identity.
const (
	pluginName    = "llm-openai"
	pluginVersion = "0.1.0"
	providerName  = "openai"
)

// Capabilities advertised in Info.
const (
	capabilityStreaming = "streaming"
	capabilityTools     = "tools"
)

// bearerPrefix starts the Authorization header value.
const bearerPrefix = "Bearer "

// plugin implements sdk.LLM against a Chat Completions endpoint.
type plugin struct {
	client *http.Client
	getenv func(string) string
	logger *slog.Logger

	mu  sync.RWMutex
	cfg *config // nil until Configure succeeds
}

var _ sdk.LLM = (*plugin)(nil)

// newPlugin returns an unconfigured plugin. getenv looks up the API key
// (os.Getenv in production); client is the HTTP client for all requests;
// a nil logger discards.
func newPlugin(client *http.Client, getenv func(string) string, logger *slog.Logger) *plugin {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &plugin{client: client, getenv: getenv, logger: logger}
}

// Info describes the plugin.
func (p *plugin) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{
		Name:         pluginName,
		Version:      pluginVersion,
		Kind:         sdk.KindLLM,
		Capabilities: []string{capabilityStreaming, capabilityTools},
	}, nil
}

// Configure validates settings and applies them to later generations.
func (p *plugin) Configure(_ context.Context, settings json.RawMessage) error {
	cfg, err := parseSettings(settings, p.getenv)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.cfg = &cfg
	p.mu.Unlock()
	return nil
}

// Generate streams the next assistant turn. Request problems (bad tool
// schema, bad tool-call arguments) fail here; everything the provider says
// arrives through the returned stream.
func (p *plugin) Generate(ctx context.Context, req sdk.GenerateRequest) (sdk.LLMStream, error) {
	p.mu.RLock()
	cfg := p.cfg
	p.mu.RUnlock()
	if cfg == nil {
		return nil, sdk.Errorf(sdk.CodeFailedPrecondition, "%s: Generate called before Configure", pluginName)
	}
	body, err := buildRequest(*cfg, req)
	if err != nil {
		return nil, err
	}
	return sdk.NewLLMStream(ctx, func(ctx context.Context, emit func(sdk.GenerateEvent) error) error {
		return p.run(ctx, *cfg, body, emit)
	}), nil
}

// run performs one streaming request and decodes its events.
func (p *plugin) run(ctx context.Context, cfg config, body []byte, emit func(sdk.GenerateEvent) error) (err error) {
	start := time.Now()
	ctx, span := tracing.StartChat(ctx, providerName, cfg.model)
	var dec *decoder
	defer func() {
		var in, out int
		if dec != nil {
			in, out = dec.usage.InputTokens, dec.usage.OutputTokens
		}
		tracing.EndChat(span, in, out, err)
	}()
	header := http.Header{}
	if cfg.apiKey != "" {
		header.Set("Authorization", bearerPrefix+cfg.apiKey)
	}
	dec = newDecoder(emit)
	err = providerhttp.PostSSE(ctx, p.client, providerName, providerhttp.SSERequest{
		URL:    cfg.endpoint,
		Body:   body,
		Header: header,
		Timeouts: providerhttp.StreamTimeouts{
			Request:   cfg.requestTimeout,
			FirstByte: cfg.firstByteTimeout,
			Idle:      cfg.idleTimeout,
		},
		// Some servers end the response after finish_reason without
		// sending [DONE]; the generation is then complete.
		EndWithoutDone: func() error {
			if !dec.finishSeen() {
				return io.ErrUnexpectedEOF
			}
			return dec.finish()
		},
	}, func(ev providerhttp.Event) (bool, error) {
		if err := dec.handle(ev); err != nil {
			return false, err
		}
		return dec.finished(), nil
	})
	if err != nil {
		return err
	}
	p.logger.DebugContext(ctx, "generation done",
		slog.String("model", cfg.model),
		slog.Int("input_tokens", dec.usage.InputTokens),
		slog.Int("output_tokens", dec.usage.OutputTokens),
		slog.Duration("elapsed", time.Since(start)))
	return nil
}
