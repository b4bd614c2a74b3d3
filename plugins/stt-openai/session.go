package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"time"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/sdk/providerhttp"
)

// utteranceQueue bounds how many finished utterances wait for upload
// before the stream stops taking audio.
const utteranceQueue = 4

// maxResponseBytes bounds a transcription response.
const maxResponseBytes = 4 << 20

// utterance is buffered audio to transcribe and where it sits in the stream.
type utterance struct {
	pcm   []byte
	start int64 // offset of its first sample in the stream, in samples
}

// session is one recognition stream. run (started by sdk.NewSTTStream)
// collects audio into utterances and hands each finished one to an upload
// goroutine it owns, so SendAudio never waits for the network; uploads run
// one at a time, in order, and each yields at most one final transcript
// (none when the text is empty).
type session struct {
	cfg      *config
	logger   *slog.Logger
	rate     int
	language string
	maxBytes int
}

func (s *session) run(ctx context.Context, in <-chan sdk.STTInput, emit func(sdk.TranscriptEvent) error) error {
	jobs := make(chan utterance, utteranceQueue)
	uploadDone := make(chan struct{})
	var uploadErr error
	go func() {
		defer close(uploadDone)
		for u := range jobs {
			if err := s.transcribe(ctx, u, emit); err != nil {
				uploadErr = err
				return
			}
		}
	}()
	err := s.collect(ctx, in, jobs, uploadDone)
	close(jobs)
	<-uploadDone
	if err == nil {
		err = uploadErr
	}
	if err == nil && ctx.Err() != nil {
		err = providerhttp.ErrorFromTransport(ctx, providerName, ctx.Err())
	}
	return err
}

// collect buffers audio and queues utterances until input ends (nil), the
// uploader failed (nil: run reports its error) or ctx is done.
func (s *session) collect(ctx context.Context, in <-chan sdk.STTInput, jobs chan<- utterance, uploadDone <-chan struct{}) error {
	var cur utterance
	var offset int64 // samples received so far
	submit := func() bool {
		if len(cur.pcm) == 0 {
			cur.start = offset // nothing to say; the next utterance starts here
			return true
		}
		select {
		case jobs <- cur:
			cur = utterance{start: offset}
			return true
		case <-uploadDone:
			return false
		case <-ctx.Done():
			return false
		}
	}
	for {
		select {
		case msg, ok := <-in:
			if !ok {
				submit()
				return nil
			}
			if msg.Flush {
				if !submit() {
					return nil
				}
				continue
			}
			for pcm := msg.Audio; len(pcm) > 0; {
				n := min(len(pcm), s.maxBytes-len(cur.pcm))
				cur.pcm = append(cur.pcm, pcm[:n]...)
				offset += int64(n / bytesPerSample)
				pcm = pcm[n:]
				if len(cur.pcm) >= s.maxBytes {
					s.logger.Debug("utterance reached max_utterance_seconds; transcribing it now", "plugin", pluginName)
					if !submit() {
						return nil
					}
				}
			}
		case <-uploadDone:
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}

// transcription is the response body for response_format json and
// verbose_json (segments only in the latter).
type transcription struct {
	Text     string `json:"text"`
	Segments []struct {
		Start      float64 `json:"start"`
		End        float64 `json:"end"`
		AvgLogprob float64 `json:"avg_logprob"`
	} `json:"segments"`
}

// transcribe uploads one utterance and emits its final transcript.
func (s *session) transcribe(ctx context.Context, u utterance, emit func(sdk.TranscriptEvent) error) error {
	body, contentType, err := s.multipartBody(u.pcm)
	if err != nil {
		return fmt.Errorf("openai: build upload: %w", err)
	}
	timeout := time.Duration(s.cfg.RequestTimeout)
	reqCtx, cancel := context.WithTimeoutCause(ctx, timeout,
		fmt.Errorf("no transcription within %s: %w", timeout, providerhttp.ErrRequestTimeout))
	defer cancel()
	req, err := http.NewRequestWithContext(reqCtx, http.MethodPost,
		strings.TrimSuffix(s.cfg.BaseURL, "/")+"/audio/transcriptions", bytes.NewReader(body))
	if err != nil {
		return sdk.InvalidField("base_url", "cannot build request: %s", err.Error())
	}
	req.Header.Set("Content-Type", contentType)
	if s.cfg.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+s.cfg.apiKey)
	}
	s.logger.Debug("transcribe", "plugin", pluginName, "audio_bytes", len(u.pcm))
	resp, err := s.cfg.client.Do(req)
	if err != nil {
		return providerhttp.ErrorFromRequest(ctx, reqCtx, providerName, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode < http.StatusOK || resp.StatusCode >= http.StatusMultipleChoices {
		return providerhttp.ErrorFromResponse(providerName, resp)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return providerhttp.ErrorFromRequest(ctx, reqCtx, providerName, err)
	}
	text, conf, err := decodeTranscription(raw)
	if err != nil {
		return err
	}
	if text == "" {
		return nil
	}
	start := samplesToDuration(u.start, s.rate)
	return emit(sdk.TranscriptEvent{
		Text:       text,
		Final:      true,
		Confidence: conf,
		Start:      start,
		End:        start + samplesToDuration(int64(len(u.pcm)/bytesPerSample), s.rate),
	})
}

// decodeTranscription decodes a json or verbose_json transcription
// response: its text (trimmed) and confidence (0 when unknown). A body
// that is not such JSON is an unavailable error.
func decodeTranscription(raw []byte) (string, float32, error) {
	var tr transcription
	if err := json.Unmarshal(raw, &tr); err != nil {
		return "", 0, providerhttp.Unavailable(providerName, "malformed transcription response", err)
	}
	return strings.TrimSpace(tr.Text), confidence(tr), nil
}

// multipartBody builds the form: file (a WAV), model, response_format and,
// when set, language and prompt.
func (s *session) multipartBody(pcm []byte) ([]byte, string, error) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="utterance.wav"`)
	h.Set("Content-Type", "audio/wav")
	part, err := w.CreatePart(h)
	if err != nil {
		return nil, "", err
	}
	if _, err := part.Write(wavFile(pcm, s.rate)); err != nil {
		return nil, "", err
	}
	fields := [][2]string{{"model", s.cfg.Model}, {"response_format", s.cfg.ResponseFormat}}
	if s.language != "" {
		fields = append(fields, [2]string{"language", s.language})
	}
	if s.cfg.Prompt != "" {
		fields = append(fields, [2]string{"prompt", s.cfg.Prompt})
	}
	for _, f := range fields {
		if err := w.WriteField(f[0], f[1]); err != nil {
			return nil, "", err
		}
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), w.FormDataContentType(), nil
}

// confidence is the mean of exp(avg_logprob) over verbose_json segments,
// or 0 (unknown) when the response has none.
func confidence(tr transcription) float32 {
	if len(tr.Segments) == 0 {
		return 0
	}
	sum := 0.0
	for _, seg := range tr.Segments {
		sum += math.Exp(min(seg.AvgLogprob, 0))
	}
	return float32(sum / float64(len(tr.Segments)))
}

func samplesToDuration(n int64, rate int) time.Duration {
	return time.Duration(n) * time.Second / time.Duration(rate)
}
