package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/sdk/providerhttp"
	"github.com/parleyhq/parley/sdk/sentence"
)

// streamParams are the fixed parameters of one synthesis stream.
type streamParams struct {
	cfg           *config
	logger        *slog.Logger
	voiceID       string
	outputFormat  string
	sampleRate    int
	voiceSettings voiceSettings
}

// newStream opens a synthesis stream in the http mode: one streaming
// request per sentence, in text order.
func newStream(ctx context.Context, p streamParams) *sentence.Stream {
	return sentence.NewStream(ctx, providerName, p.sampleRate, p.speak)
}

// speechRequest is the JSON body of the stream endpoint.
type speechRequest struct {
	Text          string         `json:"text"`
	ModelID       string         `json:"model_id"`
	VoiceSettings *voiceSettings `json:"voice_settings,omitempty"`
}

// speak synthesizes one sentence and emits its audio as it arrives.
func (p streamParams) speak(ctx context.Context, sn sentence.Span, emit func([]byte) error) error {
	req := speechRequest{Text: sn.Text, ModelID: p.cfg.ModelID}
	if p.voiceSettings != (voiceSettings{}) {
		vs := p.voiceSettings
		req.VoiceSettings = &vs
	}
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("elevenlabs: encode request: %w", err)
	}
	endpoint := strings.TrimSuffix(p.cfg.BaseURL, "/") + "/v1/text-to-speech/" +
		url.PathEscape(p.voiceID) + "/stream?" + url.Values{"output_format": {p.outputFormat}}.Encode()

	idle := time.Duration(p.cfg.IdleTimeout)
	reqCtx, wd := providerhttp.NewWatchdog(ctx, idle, fmt.Errorf("no data for %s: %w", idle, providerhttp.ErrIdleTimeout))
	defer wd.Stop()

	httpReq, err := http.NewRequestWithContext(reqCtx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return sdk.InvalidField("base_url", "cannot build request: %s", err.Error())
	}
	httpReq.Header.Set("xi-api-key", p.cfg.apiKey)
	httpReq.Header.Set("Content-Type", "application/json")
	p.logger.Debug("synthesize", "plugin", pluginName, "voice_id", p.voiceID, "bytes", len(sn.Text), "span_start", sn.Start)

	resp, err := p.cfg.client.Do(httpReq)
	if err != nil {
		return providerhttp.ErrorFromRequest(ctx, reqCtx, providerName, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode < http.StatusOK || resp.StatusCode >= http.StatusMultipleChoices {
		return providerhttp.ErrorFromResponse(providerName, resp)
	}
	odd, err := providerhttp.ReadPCM16(resp.Body, wd, func(pcm []byte) error { return emit(bytes.Clone(pcm)) })
	if err != nil {
		return providerhttp.ErrorFromRequest(ctx, reqCtx, providerName, err)
	}
	if odd {
		p.logger.Warn("dropped a trailing odd byte", "plugin", pluginName)
	}
	return nil
}
