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
	"net/url"
	"strings"
	"time"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/sdk/providerhttp"
	"github.com/parleyhq/parley/sdk/sentence"
)

// readChunkBytes is the read buffer for the audio response; each read
// becomes at most one AudioChunk.
const readChunkBytes = 4096

// sentenceQueue bounds how many sentences wait for synthesis before
// SendText blocks.
const sentenceQueue = 32

// errIdleTimeout cancels a request that sent nothing for idle_timeout.
var errIdleTimeout = errors.New("elevenlabs: idle timeout")

// errClosed is returned by SendText and Flush after CloseSend.
var errClosed = sdk.Errorf(sdk.CodeFailedPrecondition, "%s: stream closed for sending", pluginName)

// streamParams are the fixed parameters of one synthesis stream.
type streamParams struct {
	cfg           *config
	logger        *slog.Logger
	voiceID       string
	outputFormat  string
	sampleRate    int
	voiceSettings voiceSettings
}

// stream is one synthesis stream: SendText cuts text into sentences on the
// caller's goroutine, and one worker goroutine synthesizes them in order,
// one request at a time, so audio is always in text order.
type stream struct {
	streamParams
	ctx context.Context //nolint:containedctx // the stream lives exactly as long as this context.

	split  sentence.Splitter
	jobs   chan sentence.Span
	out    chan sdk.AudioChunk
	done   chan struct{}
	err    error // set before done is closed
	closed bool
}

func newStream(ctx context.Context, p streamParams) *stream {
	s := &stream{
		streamParams: p,
		ctx:          ctx,
		jobs:         make(chan sentence.Span, sentenceQueue),
		out:          make(chan sdk.AudioChunk),
		done:         make(chan struct{}),
	}
	go s.run(ctx)
	return s
}

// SendText appends text; complete sentences are queued for synthesis.
func (s *stream) SendText(text string) error {
	if s.closed {
		return errClosed
	}
	return s.enqueue(s.split.Add(text))
}

// Flush queues any pending text as a sentence.
func (s *stream) Flush() error {
	if s.closed {
		return errClosed
	}
	return s.enqueue(s.split.Flush())
}

// CloseSend flushes pending text and ends input.
func (s *stream) CloseSend() error {
	if s.closed {
		return nil
	}
	err := s.enqueue(s.split.Flush())
	s.closed = true
	close(s.jobs)
	return err
}

// Recv returns the next audio chunk, or io.EOF after the last one.
func (s *stream) Recv() (sdk.AudioChunk, error) {
	select {
	case c := <-s.out:
		return c, nil
	case <-s.done:
		return sdk.AudioChunk{}, s.err
	}
}

func (s *stream) enqueue(sentences []sentence.Span) error {
	for _, sn := range sentences {
		select {
		case s.jobs <- sn:
		case <-s.done:
			if errors.Is(s.err, io.EOF) {
				return errClosed
			}
			return s.err
		case <-s.ctx.Done():
			return providerhttp.ErrorFromTransport(s.ctx, providerName, s.ctx.Err())
		}
	}
	return nil
}

// run synthesizes queued sentences until input ends, the context is done
// or a request fails.
func (s *stream) run(ctx context.Context) {
	defer close(s.done)
	for {
		select {
		case sn, ok := <-s.jobs:
			if !ok {
				s.err = io.EOF
				return
			}
			if err := s.speak(ctx, sn); err != nil {
				s.err = err
				return
			}
		case <-ctx.Done():
			s.err = providerhttp.ErrorFromTransport(ctx, providerName, ctx.Err())
			return
		}
	}
}

// speechRequest is the JSON body of the stream endpoint.
type speechRequest struct {
	Text          string         `json:"text"`
	ModelID       string         `json:"model_id"`
	VoiceSettings *voiceSettings `json:"voice_settings,omitempty"`
}

// speak synthesizes one sentence and emits its audio as it arrives.
func (s *stream) speak(ctx context.Context, sn sentence.Span) error {
	req := speechRequest{Text: sn.Text, ModelID: s.cfg.ModelID}
	if s.voiceSettings != (voiceSettings{}) {
		vs := s.voiceSettings
		req.VoiceSettings = &vs
	}
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("elevenlabs: encode request: %w", err)
	}
	endpoint := strings.TrimSuffix(s.cfg.BaseURL, "/") + "/v1/text-to-speech/" +
		url.PathEscape(s.voiceID) + "/stream?" + url.Values{"output_format": {s.outputFormat}}.Encode()

	idle := time.Duration(s.cfg.IdleTimeout)
	reqCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	watchdog := time.AfterFunc(idle, func() { cancel(errIdleTimeout) })
	defer watchdog.Stop()

	httpReq, err := http.NewRequestWithContext(reqCtx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return sdk.InvalidField("base_url", "cannot build request: %s", err.Error())
	}
	httpReq.Header.Set("xi-api-key", s.cfg.apiKey)
	httpReq.Header.Set("Content-Type", "application/json")
	s.logger.Debug("synthesize", "plugin", pluginName, "voice_id", s.voiceID, "bytes", len(sn.Text), "span_start", sn.Start)

	resp, err := s.cfg.client.Do(httpReq)
	if err != nil {
		return s.transportError(ctx, reqCtx, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode < http.StatusOK || resp.StatusCode >= http.StatusMultipleChoices {
		return providerhttp.ErrorFromResponse(providerName, resp)
	}

	buf := make([]byte, readChunkBytes)
	have := 0 // bytes of an incomplete sample carried at buf[0:have]
	for {
		n, rerr := resp.Body.Read(buf[have:])
		watchdog.Reset(idle)
		total := have + n
		whole := total &^ 1
		if whole > 0 {
			pcm := make([]byte, whole)
			copy(pcm, buf[:whole])
			chunk := sdk.AudioChunk{PCM: pcm, SampleRate: s.sampleRate, TextStart: sn.Start, TextEnd: sn.End}
			select {
			case s.out <- chunk:
			case <-ctx.Done():
				return providerhttp.ErrorFromTransport(ctx, providerName, ctx.Err())
			}
		}
		have = total - whole
		if have > 0 {
			buf[0] = buf[whole]
		}
		switch {
		case rerr == io.EOF:
			if have > 0 {
				s.logger.Warn("dropped a trailing odd byte", "plugin", pluginName)
			}
			return nil
		case rerr != nil:
			return s.transportError(ctx, reqCtx, rerr)
		}
	}
}

// transportError maps a failed request or read; an idle timeout is
// Unavailable like any other provider stall.
func (s *stream) transportError(ctx, reqCtx context.Context, err error) error {
	if errors.Is(context.Cause(reqCtx), errIdleTimeout) && ctx.Err() == nil {
		return &sdk.Error{
			Code:    sdk.CodeUnavailable,
			Message: fmt.Sprintf("%s: no data for %s", providerName, time.Duration(s.cfg.IdleTimeout)),
			Details: map[string]string{providerhttp.DetailProvider: providerName},
			Err:     err,
		}
	}
	e := *providerhttp.ErrorFromTransport(ctx, providerName, err)
	if errors.Is(e.Err, io.EOF) {
		e.Err = errors.New(e.Err.Error()) // an EOF cause would read as the stream's regular end
	}
	return &e
}
