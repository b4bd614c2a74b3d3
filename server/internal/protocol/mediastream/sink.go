package mediastream

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/protocol/wsclose"
	"github.com/parleyhq/parley/server/internal/session"
)

// CloseCode is the WebSocket close code a call's stream ends with
// (wsclose); the carrier shows it to no one, Parley logs it.
type CloseCode = wsclose.Code

// The close codes of a media stream.
const (
	CloseNormal          = wsclose.Normal
	CloseGoingAway       = wsclose.GoingAway
	ClosePolicyViolation = wsclose.PolicyViolation
	CloseInternalError   = wsclose.InternalError
	CloseSlowConsumer    = wsclose.SlowConsumer
	// CloseNoStart: the stream sent no valid `start` in time.
	CloseNoStart = wsclose.NoStart
)

// Wire is a call's WebSocket as a transport offers it; it follows the
// session.Sink rules (concurrency-safe, never blocking).
type Wire interface {
	// SendText queues one text message.
	SendText(msg []byte) error
	// Close ends the stream with code and reason after queued output.
	Close(code CloseCode, reason string)
}

// Sink is the session.Sink of one call: 20 ms PCM frames at 8 kHz become
// G.711 media messages, each AudioMark a mark (named with MarkName, so the
// echo says how far the caller has heard), ResponseInterrupted a clear.
// The other events have no place in the protocol: Error events go to
// onError (the transport logs them), the rest are dropped.
type Sink struct {
	w        Wire
	d        Dialect
	law      audio.G711
	streamID string
	onError  func(session.Error)

	mu    sync.Mutex
	codes []byte
}

var _ session.Sink = (*Sink)(nil)

// NewSink returns the Sink of stream streamID; onError may be nil.
func NewSink(w Wire, d Dialect, law audio.G711, streamID string, onError func(session.Error)) *Sink {
	return &Sink{w: w, d: d, law: law, streamID: streamID, onError: onError}
}

// Event implements session.Sink.
func (s *Sink) Event(ev session.Event) error {
	switch e := ev.(type) {
	case session.AudioMark:
		return s.w.SendText(s.d.Mark(s.streamID, MarkName(e.ResponseID, e.End)))
	case session.ResponseInterrupted:
		return s.w.SendText(s.d.Clear(s.streamID))
	case session.Error:
		if s.onError != nil {
			s.onError(e)
		}
	}
	return nil
}

// Audio implements session.Sink: pcm is one frame of PCM16LE at 8 kHz.
func (s *Sink) Audio(pcm []byte) error {
	s.mu.Lock()
	s.codes = s.law.Encode(s.codes[:0], pcm)
	msg := s.d.Media(s.streamID, s.codes)
	s.mu.Unlock()
	return s.w.SendText(msg)
}

// Close implements session.Sink.
func (s *Sink) Close(reason session.EndReason, detail string) {
	s.w.Close(wsclose.For(reason), detail)
}

// markSep separates the response id and the position in a mark's name.
const markSep = "@"

// MarkName names the mark sent after the audio of responseID up to end:
// "resp_3@1200", in milliseconds rounded up, so that the echo covers all
// of the audio before it.
func MarkName(responseID string, end time.Duration) string {
	ms := (end + time.Millisecond - 1) / time.Millisecond
	return responseID + markSep + strconv.FormatInt(int64(ms), 10)
}

// ParseMarkName reads a name made by MarkName.
func ParseMarkName(name string) (responseID string, end time.Duration, ok bool) {
	id, ms, found := strings.Cut(name, markSep)
	if !found || id == "" {
		return "", 0, false
	}
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil || n < 0 {
		return "", 0, false
	}
	return id, time.Duration(n) * time.Millisecond, true
}
