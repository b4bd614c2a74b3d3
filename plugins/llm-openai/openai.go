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
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/sdk/providerhttp"
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

// Draining the response after the final event.
const (
	drainLimit   = 4 << 10
	drainTimeout = time.Second
)

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
func (p *plugin) run(ctx context.Context, cfg config, body []byte, emit func(sdk.GenerateEvent) error) error {
	start := time.Now()
	reqCtx, cancel := context.WithTimeoutCause(ctx, cfg.requestTimeout, providerhttp.ErrRequestTimeout)
	defer cancel()
	reqCtx, wd := providerhttp.NewWatchdog(reqCtx, cfg.firstByteTimeout, providerhttp.ErrFirstByteTimeout)
	defer wd.Stop()

	httpReq, err := http.NewRequestWithContext(reqCtx, http.MethodPost, cfg.endpoint, bytes.NewReader(body))
	if err != nil {
		return sdk.Errorf(sdk.CodeInternal, "%s: build request: %s", providerName, err.Error())
	}
	httpReq.Header.Set("Content-Type", "application/json")
	httpReq.Header.Set("Accept", "text/event-stream")
	if cfg.apiKey != "" {
		httpReq.Header.Set("Authorization", bearerPrefix+cfg.apiKey)
	}

	resp, err := p.client.Do(httpReq)
	if err != nil {
		return providerhttp.ErrorFromRequest(ctx, reqCtx, providerName, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode < http.StatusOK || resp.StatusCode >= http.StatusMultipleChoices {
		return providerhttp.ErrorFromResponse(providerName, resp)
	}

	dec := newDecoder(emit)
	sse := providerhttp.NewSSEReader(resp.Body)
	for !dec.finished() {
		ev, err := sse.Next()
		if errors.Is(err, io.EOF) && dec.finishSeen() {
			// Some servers end the response after finish_reason without
			// sending [DONE]; the generation is complete.
			if err := dec.finish(); err != nil {
				return providerhttp.ErrorFromTransport(ctx, providerName, err)
			}
			break
		}
		if err != nil {
			return providerhttp.ErrorFromRequest(ctx, reqCtx, providerName, fmt.Errorf("read stream: %w", err))
		}
		// The idle countdown measures the provider only: it is paused while
		// the consumer takes the event.
		wd.Pause()
		if err := dec.handle(ev); err != nil {
			if ctx.Err() != nil {
				return providerhttp.ErrorFromTransport(ctx, providerName, err)
			}
			return err
		}
		wd.Arm(cfg.idleTimeout, providerhttp.ErrIdleTimeout)
	}
	// Read the end of the response (the final chunk of a chunked body) so
	// that the connection goes back to the pool: the next turn then skips
	// a TCP and TLS handshake. A server that keeps the response open after
	// its final event is cut off after drainTimeout.
	wd.Arm(drainTimeout, providerhttp.ErrIdleTimeout)
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
	p.logger.DebugContext(ctx, "generation done",
		slog.String("model", cfg.model),
		slog.Int("input_tokens", dec.usage.InputTokens),
		slog.Int("output_tokens", dec.usage.OutputTokens),
		slog.Duration("elapsed", time.Since(start)))
	return nil
}
