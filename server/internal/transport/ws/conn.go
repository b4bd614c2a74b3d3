package ws

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/parleyhq/parley/server/internal/protocol/parleyv1"
	"github.com/parleyhq/parley/server/internal/session"
)

// v1Wire is a Conn as a parley.v1 Wire.
type v1Wire struct{ *Conn }

var _ parleyv1.Wire = v1Wire{}

// SendAudio implements parleyv1.Wire.
func (w v1Wire) SendAudio(pcm []byte) error { return w.SendBinary(pcm) }

// Close implements parleyv1.Wire.
func (w v1Wire) Close(code parleyv1.CloseCode, reason string) {
	w.Conn.Close(websocket.StatusCode(code), reason)
}

// closeTimeout bounds writing the queued messages and the close frame when a
// session ends.
const closeTimeout = 5 * time.Second

// outMsg is one queued outgoing message.
type outMsg struct {
	typ  websocket.MessageType
	data []byte
}

// Conn is a WebSocket for a session, whatever its protocol: sends go into
// a bounded queue drained by one writer goroutine (Run), so the session
// never blocks on a slow client; a full queue or a write that fails or
// times out closes the connection with the slow-consumer code. Close sends
// what is queued (bounded by closeTimeout) and the close frame.
type Conn struct {
	c            *websocket.Conn
	out          chan outMsg
	writeTimeout time.Duration
	slowCode     websocket.StatusCode
	// log gains the session id once the session exists.
	log atomic.Pointer[slog.Logger]

	mu      sync.Mutex
	closed  bool
	code    websocket.StatusCode
	reason  string
	closing chan struct{}
	done    chan struct{}
}

// NewConn wraps c with a send queue of buffer messages; writeTimeout
// bounds each write (0: none); slowCode is the close code for a client
// that does not read. Start the writer with Run.
func NewConn(c *websocket.Conn, buffer int, writeTimeout time.Duration, slowCode websocket.StatusCode, log *slog.Logger) *Conn {
	w := &Conn{
		c: c, out: make(chan outMsg, max(buffer, 1)), writeTimeout: writeTimeout, slowCode: slowCode,
		closing: make(chan struct{}), done: make(chan struct{}),
	}
	w.log.Store(log)
	return w
}

// SetLogger replaces the logger (once the session id is known).
func (w *Conn) SetLogger(l *slog.Logger) { w.log.Store(l) }

// Done is closed when the writer has finished (after the close handshake).
func (w *Conn) Done() <-chan struct{} { return w.done }

// SendText queues one text message.
func (w *Conn) SendText(msg []byte) error {
	return w.send(outMsg{typ: websocket.MessageText, data: msg})
}

// SendBinary queues one binary message; the Conn owns b.
func (w *Conn) SendBinary(b []byte) error {
	return w.send(outMsg{typ: websocket.MessageBinary, data: b})
}

func (w *Conn) send(m outMsg) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return session.ErrConnClosed
	}
	select {
	case w.out <- m:
		return nil
	default:
		w.closeLocked(w.slowCode, "send buffer full: client too slow")
		return session.ErrSendBufferFull
	}
}

// Close ends the connection with code and reason once the queue is sent
// (except for the slow-consumer code). Only the first call counts.
func (w *Conn) Close(code websocket.StatusCode, reason string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closeLocked(code, reason)
}

func (w *Conn) closeLocked(code websocket.StatusCode, reason string) {
	if w.closed {
		return
	}
	w.closed, w.code, w.reason = true, code, reason
	close(w.closing)
}

func (w *Conn) write(ctx context.Context, m outMsg) error {
	if w.writeTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, w.writeTimeout)
		defer cancel()
	}
	return w.c.Write(ctx, m.typ, m.data)
}

// Run is the writer goroutine: it ends after the close handshake.
func (w *Conn) Run(ctx context.Context) {
	defer close(w.done)
	for {
		select {
		case m := <-w.out:
			if err := w.write(ctx, m); err != nil {
				w.log.Load().Info("websocket write failed", "error", err)
				w.Close(w.slowCode, "write failed or timed out")
				_ = w.c.CloseNow()
				return
			}
		case <-w.closing:
			w.finish(ctx)
			return
		}
	}
}

// finish sends what is queued (unless the client is too slow for it) and
// the close frame.
func (w *Conn) finish(ctx context.Context) {
	w.mu.Lock()
	code, reason := w.code, w.reason
	w.mu.Unlock()
	if code != w.slowCode {
		deadline := time.Now().Add(closeTimeout)
	drain:
		for time.Now().Before(deadline) {
			select {
			case m := <-w.out:
				if err := w.write(ctx, m); err != nil {
					_ = w.c.CloseNow()
					return
				}
			default:
				break drain
			}
		}
	}
	if err := w.c.Close(code, reason); err != nil && !errors.Is(err, context.Canceled) {
		w.log.Load().Debug("websocket close", "error", err)
	}
}
