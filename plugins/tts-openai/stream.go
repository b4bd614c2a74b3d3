package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
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
var errIdleTimeout = errors.New("openai: idle timeout")

// errClosed is returned by SendText and Flush after CloseSend.
var errClosed = sdk.Errorf(sdk.CodeFailedPrecondition, "%s: stream closed for sending", pluginName)

// streamParams are the fixed parameters of one synthesis stream.
type streamParams struct {
	cfg        *config
	logger     *slog.Logger
	voice      string
	speed      float64 // 0: server default
	sampleRate int
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
func (s *stream) speak(ctx context.Context, sn sentence.Span) error {
	body, err := json.Marshal(speechRequest{
		Model: s.cfg.Model, Input: sn.Text, Voice: s.voice, ResponseFormat: "pcm",
		Speed: s.speed, Instructions: s.cfg.Instructions,
	})
	if err != nil {
		return fmt.Errorf("openai: encode request: %w", err)
	}
	endpoint := strings.TrimSuffix(s.cfg.BaseURL, "/") + "/audio/speech"

	idle := time.Duration(s.cfg.IdleTimeout)
	reqCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	watchdog := time.AfterFunc(idle, func() { cancel(errIdleTimeout) })
	defer watchdog.Stop()

	httpReq, err := http.NewRequestWithContext(reqCtx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return sdk.InvalidField("base_url", "cannot build request: %s", err.Error())
	}
	if s.cfg.apiKey != "" {
		httpReq.Header.Set("Authorization", "Bearer "+s.cfg.apiKey)
	}
	httpReq.Header.Set("Content-Type", "application/json")
	s.logger.Debug("synthesize", "plugin", pluginName, "voice", s.voice, "bytes", len(sn.Text), "span_start", sn.Start)

	resp, err := s.cfg.client.Do(httpReq)
	if err != nil {
		return s.transportError(ctx, reqCtx, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode < http.StatusOK || resp.StatusCode >= http.StatusMultipleChoices {
		return providerhttp.ErrorFromResponse(providerName, resp)
	}

	var rs *resampler
	if s.sampleRate != nativeRate {
		rs = newResampler(nativeRate, s.sampleRate)
	}
	buf := make([]byte, readChunkBytes)
	have := 0 // bytes of an incomplete sample carried at buf[0:have]
	for {
		n, rerr := resp.Body.Read(buf[have:])
		watchdog.Reset(idle)
		total := have + n
		whole := total &^ 1
		if err := s.emitPCM(ctx, sn, rs, buf[:whole]); err != nil {
			return err
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
			if rs != nil {
				return s.emit(ctx, sn, samplesToBytes(rs.Finish()))
			}
			return nil
		case rerr != nil:
			return s.transportError(ctx, reqCtx, rerr)
		}
	}
}

// emitPCM emits 24 kHz PCM bytes, resampled when rs is set.
func (s *stream) emitPCM(ctx context.Context, sn sentence.Span, rs *resampler, pcm []byte) error {
	if len(pcm) == 0 {
		return nil
	}
	if rs == nil {
		return s.emit(ctx, sn, append([]byte(nil), pcm...))
	}
	return s.emit(ctx, sn, samplesToBytes(rs.Process(bytesToSamples(pcm))))
}

// emit hands one chunk of sentence sn to Recv.
func (s *stream) emit(ctx context.Context, sn sentence.Span, pcm []byte) error {
	if len(pcm) == 0 {
		return nil
	}
	chunk := sdk.AudioChunk{PCM: pcm, SampleRate: s.sampleRate, TextStart: sn.Start, TextEnd: sn.End}
	select {
	case s.out <- chunk:
		return nil
	case <-ctx.Done():
		return providerhttp.ErrorFromTransport(ctx, providerName, ctx.Err())
	}
}

func bytesToSamples(b []byte) []int16 {
	out := make([]int16, len(b)/2)
	for i := range out {
		out[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return out
}

func samplesToBytes(s []int16) []byte {
	out := make([]byte, 2*len(s))
	for i, v := range s {
		binary.LittleEndian.PutUint16(out[2*i:], uint16(v))
	}
	return out
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
