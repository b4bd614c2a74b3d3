package parleyv1

import "github.com/parleyhq/parley/server/internal/session"

// Wire is a parley.v1 connection as a transport offers it: text messages,
// audio frames and a close with a code. Implementations follow the
// session.Sink rules (concurrency-safe, never blocking, ErrSendBufferFull
// when full, ErrConnClosed once closed).
type Wire interface {
	// SendText queues one JSON text message.
	SendText(msg []byte) error
	// SendAudio queues one 20 ms PCM16LE frame; the Wire owns pcm.
	SendAudio(pcm []byte) error
	// Close ends the connection with code and reason after queued output.
	Close(code CloseCode, reason string)
}

// Sink speaks parley.v1 over a Wire: it implements session.Sink by
// encoding each event as JSON text and passing audio through untouched.
type Sink struct{ w Wire }

var _ session.Sink = Sink{}

// NewSink returns the session.Sink for w.
func NewSink(w Wire) Sink { return Sink{w: w} }

// Event implements session.Sink; events the protocol does not carry are
// dropped.
func (s Sink) Event(ev session.Event) error {
	msg, ok := Encode(ev)
	if !ok {
		return nil
	}
	return s.w.SendText(msg)
}

// Audio implements session.Sink.
func (s Sink) Audio(pcm []byte) error { return s.w.SendAudio(pcm) }

// Close implements session.Sink.
func (s Sink) Close(reason session.EndReason, detail string) {
	s.w.Close(CloseCodeFor(reason), detail)
}
