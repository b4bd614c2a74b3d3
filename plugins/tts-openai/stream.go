package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/sdk/pcm"
	"github.com/parleyhq/parley/sdk/providerhttp"
	"github.com/parleyhq/parley/sdk/sentence"
)

// streamParams are the fixed parameters of one synthesis stream.
type streamParams struct {
	cfg        *config
	logger     *slog.Logger
	voice      string
	speed      float64 // 0: server default
	sampleRate int
	// resample converts 24 kHz audio to sampleRate; nil when they are equal.
	resample *pcm.Filter
}

// newStream opens a synthesis stream that speaks each sentence with one
// /audio/speech request, in text order.
func newStream(ctx context.Context, p streamParams) *sentence.Stream {
	return sentence.NewStream(ctx, providerName, p.sampleRate, p.speak)
}

// speechRequest is the JSON body of /audio/speech.
type speechRequest struct {
	Model          string  `json:"model"`
	Input          string  `json:"input"`
	Voice          string  `json:"voice"`
	ResponseFormat string  `json:"response_format"`
	Speed          float64 `json:"speed,omitempty"`
	Instructions   string  `json:"instructions,omitempty"`
}

// speak synthesizes one sentence and emits its audio as it arrives,
// resampled from 24 kHz when the stream asked for another rate.
func (p streamParams) speak(ctx context.Context, sn sentence.Span, emit func([]byte) error) error {
	body, err := json.Marshal(speechRequest{
		Model: p.cfg.Model, Input: sn.Text, Voice: p.voice, ResponseFormat: "pcm",
		Speed: p.speed, Instructions: p.cfg.Instructions,
	})
	if err != nil {
		return fmt.Errorf("openai: encode request: %w", err)
	}
	endpoint := strings.TrimSuffix(p.cfg.BaseURL, "/") + "/audio/speech"

	idle := time.Duration(p.cfg.IdleTimeout)
	reqCtx, wd := providerhttp.NewWatchdog(ctx, idle, fmt.Errorf("no data for %s: %w", idle, providerhttp.ErrIdleTimeout))
	defer wd.Stop()

	httpReq, err := http.NewRequestWithContext(reqCtx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return sdk.InvalidField("base_url", "cannot build request: %s", err.Error())
	}
	if p.cfg.apiKey != "" {
		httpReq.Header.Set("Authorization", "Bearer "+p.cfg.apiKey)
	}
	httpReq.Header.Set("Content-Type", "application/json")
	p.logger.Debug("synthesize", "plugin", pluginName, "voice", p.voice, "bytes", len(sn.Text), "span_start", sn.Start)

	resp, err := p.cfg.client.Do(httpReq)
	if err != nil {
		return providerhttp.ErrorFromRequest(ctx, reqCtx, providerName, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode < http.StatusOK || resp.StatusCode >= http.StatusMultipleChoices {
		return providerhttp.ErrorFromResponse(providerName, resp)
	}

	var rs *pcm.Resampler
	var samples []int16
	if p.resample != nil {
		rs = pcm.NewResamplerFilter(p.resample)
	}
	odd, err := providerhttp.ReadPCM16(resp.Body, wd, func(b []byte) error {
		if rs == nil {
			return emit(bytes.Clone(b))
		}
		var derr error
		if samples, derr = pcm.DecodeLE(samples[:0], b); derr != nil {
			return fmt.Errorf("openai: %w", derr)
		}
		return emit(pcm.EncodeLE(nil, rs.Process(nil, samples)))
	})
	if err != nil {
		return providerhttp.ErrorFromRequest(ctx, reqCtx, providerName, err)
	}
	if odd {
		p.logger.Warn("dropped a trailing odd byte", "plugin", pluginName)
	}
	if rs != nil {
		return emit(pcm.EncodeLE(nil, rs.Flush(nil)))
	}
	return nil
}
