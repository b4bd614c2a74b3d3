package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/sdk/providerhttp"
)

// Control messages sent as text frames, as Deepgram documents them.
const (
	msgKeepAlive   = `{"type":"KeepAlive"}`
	msgFinalize    = `{"type":"Finalize"}`
	msgCloseStream = `{"type":"CloseStream"}`
)

// session is one open Deepgram live connection behind an sdk STT stream.
//
// One goroutine (run, started by sdk.NewSTTStream) writes: audio as binary
// frames, Flush as Finalize, CloseSend as CloseStream, and a KeepAlive after
// every keepAlive without audio. A second goroutine, owned by run, reads
// Deepgram's messages and emits transcripts.
//
// Finals: Deepgram marks a stretch of audio final (is_final) several times
// per utterance; the session accumulates those segments and emits ONE final
// transcript per utterance, when Deepgram signals its end: speech_final
// (endpointing), from_finalize (the answer to Flush), an UtteranceEnd
// message, or the end of the stream. Partials (only when interim results
// were asked for) carry the utterance so far: its final segments plus the
// latest interim hypothesis.
type session struct {
	conn       *websocket.Conn
	logger     *slog.Logger
	interim    bool
	keepAlive  time.Duration
	closeAfter time.Duration

	closeSent atomic.Bool
}

// run drives the connection until input ends and Deepgram closes, the
// context is done, or the connection fails.
func (s *session) run(ctx context.Context, in <-chan sdk.STTInput, emit func(sdk.TranscriptEvent) error) error {
	readDone := make(chan error, 1)
	go func() { readDone <- s.readLoop(ctx, emit) }()
	readerFinished, err := s.writeLoop(ctx, in, readDone)
	_ = s.conn.CloseNow()
	if !readerFinished {
		<-readDone //nolint:errcheck // the writer's error already says why the stream ended
	}
	return err
}

// writeLoop sends input to Deepgram. It reports whether it consumed the
// reader's result.
func (s *session) writeLoop(ctx context.Context, in <-chan sdk.STTInput, readDone <-chan error) (readerFinished bool, err error) {
	idle := time.NewTimer(s.keepAlive)
	defer idle.Stop()
	for {
		select {
		case msg, ok := <-in:
			if !ok {
				return s.closeStream(ctx, readDone)
			}
			var err error
			if msg.Flush {
				err = s.write(ctx, websocket.MessageText, []byte(msgFinalize))
			} else if len(msg.Audio) > 0 {
				err = s.write(ctx, websocket.MessageBinary, msg.Audio)
			}
			if err != nil {
				return s.writeFailed(ctx, err, readDone)
			}
			idle.Reset(s.keepAlive)
		case <-idle.C:
			if err := s.write(ctx, websocket.MessageText, []byte(msgKeepAlive)); err != nil {
				return s.writeFailed(ctx, err, readDone)
			}
			s.logger.Debug("keep-alive sent", "plugin", pluginName)
			idle.Reset(s.keepAlive)
		case err := <-readDone:
			if err == nil {
				err = providerhttp.Unavailable(providerName, "connection closed by Deepgram before the stream ended", nil)
			}
			return true, err
		case <-ctx.Done():
			return false, providerhttp.ErrorFromTransport(ctx, providerName, ctx.Err())
		}
	}
}

// closeStream sends CloseStream and waits for Deepgram to deliver the last
// results and close the connection.
func (s *session) closeStream(ctx context.Context, readDone <-chan error) (readerFinished bool, err error) {
	s.closeSent.Store(true)
	if err := s.write(ctx, websocket.MessageText, []byte(msgCloseStream)); err != nil {
		return s.writeFailed(ctx, err, readDone)
	}
	wait := time.NewTimer(s.closeAfter)
	defer wait.Stop()
	select {
	case err := <-readDone:
		return true, err
	case <-wait.C:
		return false, providerhttp.Unavailable(providerName, fmt.Sprintf("no close from Deepgram %s after CloseStream", s.closeAfter), nil)
	case <-ctx.Done():
		return false, providerhttp.ErrorFromTransport(ctx, providerName, ctx.Err())
	}
}

// writeFailed prefers the reader's account of a broken connection (a close
// frame says why) over the bare write error.
func (s *session) writeFailed(ctx context.Context, err error, readDone <-chan error) (readerFinished bool, _ error) {
	if ctx.Err() != nil {
		return false, providerhttp.ErrorFromTransport(ctx, providerName, ctx.Err())
	}
	_ = s.conn.CloseNow()
	if rerr := <-readDone; rerr != nil {
		return true, rerr
	}
	return true, providerhttp.Unavailable(providerName, "write failed", err)
}

func (s *session) write(ctx context.Context, typ websocket.MessageType, data []byte) error {
	if err := s.conn.Write(ctx, typ, data); err != nil {
		return fmt.Errorf("%w: %w", errNotSent, err)
	}
	return nil
}

// message is the union of the Deepgram live messages the plugin reads.
type message struct {
	Type         string          `json:"type"`
	Channel      json.RawMessage `json:"channel"` // an object in Results, an array elsewhere
	Start        float64         `json:"start"`
	Duration     float64         `json:"duration"`
	IsFinal      bool            `json:"is_final"`
	SpeechFinal  bool            `json:"speech_final"`
	FromFinalize bool            `json:"from_finalize"`
	RequestID    string          `json:"request_id"`
	Description  string          `json:"description"`
	Message      string          `json:"message"`
	Variant      string          `json:"variant"`
}

// resultsChannel is the channel object of a Results message.
type resultsChannel struct {
	Alternatives []struct {
		Transcript string  `json:"transcript"`
		Confidence float64 `json:"confidence"`
	} `json:"alternatives"`
}

// liveMessage is one decoded Deepgram live message: for Results, with the
// first alternative's transcript (trimmed) and confidence.
type liveMessage struct {
	message
	text       string
	confidence float64
}

// decodeMessage decodes one text frame from Deepgram. A frame that is not
// a JSON message, or a Results message whose channel is not an object, is
// an unavailable error (the provider is not speaking its protocol).
func decodeMessage(data []byte) (liveMessage, error) {
	var m liveMessage
	if err := json.Unmarshal(data, &m.message); err != nil {
		return liveMessage{}, providerhttp.Unavailable(providerName, "malformed message", err)
	}
	if m.Type != "Results" {
		return m, nil
	}
	var ch resultsChannel
	if err := json.Unmarshal(m.Channel, &ch); err != nil {
		return liveMessage{}, providerhttp.Unavailable(providerName, "malformed Results message", err)
	}
	if len(ch.Alternatives) > 0 {
		m.text, m.confidence = strings.TrimSpace(ch.Alternatives[0].Transcript), ch.Alternatives[0].Confidence
	}
	return m, nil
}

// utterance accumulates the final segments of one utterance.
type utterance struct {
	texts      []string
	start, end float64 // seconds from the stream start
	confidence float64 // sum over segments
}

func (u *utterance) add(text string, start, end, confidence float64) {
	if len(u.texts) == 0 {
		u.start = start
	}
	u.texts = append(u.texts, text)
	u.end = end
	u.confidence += confidence
}

func (u *utterance) text(extra string) string {
	parts := u.texts
	if extra != "" {
		parts = append(append([]string(nil), parts...), extra)
	}
	return strings.Join(parts, " ")
}

// readLoop reads Deepgram's messages until the connection closes. It
// returns nil only for a normal close after CloseStream.
func (s *session) readLoop(ctx context.Context, emit func(sdk.TranscriptEvent) error) error {
	var u utterance
	emitFinal := func() error {
		if len(u.texts) == 0 {
			return nil
		}
		ev := sdk.TranscriptEvent{
			Text:       u.text(""),
			Final:      true,
			Confidence: float32(u.confidence / float64(len(u.texts))),
			Start:      seconds(u.start),
			End:        seconds(u.end),
		}
		u = utterance{}
		return emit(ev)
	}
	for {
		typ, data, err := s.conn.Read(ctx)
		if err != nil {
			if rerr := s.readError(ctx, err); rerr != nil {
				return rerr
			}
			return emitFinal()
		}
		if typ != websocket.MessageText {
			continue
		}
		m, err := decodeMessage(data)
		if err != nil {
			return err
		}
		switch m.Type {
		case "Results":
			text, conf := m.text, m.confidence
			if m.IsFinal && text != "" {
				u.add(text, m.Start, m.Start+m.Duration, conf)
			}
			if !m.IsFinal && text != "" && s.interim {
				ev := sdk.TranscriptEvent{
					Text: u.text(text), Confidence: float32(conf),
					Start: seconds(m.Start), End: seconds(m.Start + m.Duration),
				}
				if len(u.texts) > 0 {
					ev.Start = seconds(u.start)
				}
				if err := emit(ev); err != nil {
					return err
				}
			}
			if m.SpeechFinal || m.FromFinalize {
				if err := emitFinal(); err != nil {
					return err
				}
			}
		case "UtteranceEnd":
			if err := emitFinal(); err != nil {
				return err
			}
		case "Metadata":
			s.logger.Debug("metadata", "plugin", pluginName, "request_id", m.RequestID)
		case "SpeechStarted":
			s.logger.Debug("speech started", "plugin", pluginName)
		case "Error":
			return &sdk.Error{
				Code:    sdk.CodeUnavailable,
				Message: providerName + ": " + firstNonEmpty(m.Description, m.Message, "error message"),
				Details: map[string]string{providerhttp.DetailProvider: providerName, providerhttp.DetailType: m.Variant},
			}
		default:
			s.logger.Debug("ignored message", "plugin", pluginName, "type", m.Type)
		}
	}
}

// readError maps the end of the connection. A normal close after
// CloseStream is the stream's regular end (nil); every other end is an
// error, so a dropped connection is never a silent end.
func (s *session) readError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return providerhttp.ErrorFromTransport(ctx, providerName, ctx.Err())
	}
	var ce websocket.CloseError
	if !errors.As(err, &ce) {
		return providerhttp.ErrorFromTransport(ctx, providerName, err)
	}
	if ce.Code == websocket.StatusNormalClosure && s.closeSent.Load() {
		return nil
	}
	code := sdk.CodeUnavailable
	if ce.Code == websocket.StatusPolicyViolation || ce.Code == websocket.StatusInvalidFramePayloadData ||
		strings.HasPrefix(ce.Reason, "DATA-") {
		code = sdk.CodeInvalidArgument // Deepgram could not decode the audio
	}
	reason := ce.Reason
	if reason == "" {
		reason = "connection closed"
	}
	return &sdk.Error{
		Code:    code,
		Message: fmt.Sprintf("%s: closed with %d: %s", providerName, int(ce.Code), reason),
		Details: map[string]string{providerhttp.DetailProvider: providerName, "close_code": fmt.Sprint(int(ce.Code))},
		Err:     err,
	}
}

func seconds(s float64) time.Duration {
	return time.Duration(s * float64(time.Second))
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}
