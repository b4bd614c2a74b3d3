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

// closeTimeout bounds writing the queued messages and the close frame when a
// session ends.
const closeTimeout = 5 * time.Second

// outMsg is one queued outgoing message.
type outMsg struct {
	typ  websocket.MessageType
	data []byte
}

// conn is a parley.v1 Wire over a WebSocket: sends go into a bounded
// queue drained by one writer goroutine, so the session never blocks on a
// slow client; a full queue closes the connection (CloseSlowConsumer).
type conn struct {
	c            *websocket.Conn
	out          chan outMsg
	writeTimeout time.Duration
	// log gains the session id once the session exists.
	log atomic.Pointer[slog.Logger]

	mu      sync.Mutex
	closed  bool
	code    parleyv1.CloseCode
	reason  string
	closing chan struct{}
	done    chan struct{}
}

var _ parleyv1.Wire = (*conn)(nil)

func newConn(c *websocket.Conn, buffer int, writeTimeout time.Duration, log *slog.Logger) *conn {
	w := &conn{
		c: c, out: make(chan outMsg, max(buffer, 1)), writeTimeout: writeTimeout,
		closing: make(chan struct{}), done: make(chan struct{}),
	}
	w.log.Store(log)
	return w
}

// SendText implements parleyv1.Wire.
func (w *conn) SendText(msg []byte) error {
	return w.send(outMsg{typ: websocket.MessageText, data: msg})
}

// SendAudio implements parleyv1.Wire.
func (w *conn) SendAudio(pcm []byte) error {
	return w.send(outMsg{typ: websocket.MessageBinary, data: pcm})
}

func (w *conn) send(m outMsg) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return session.ErrConnClosed
	}
	select {
	case w.out <- m:
		return nil
	default:
		w.closeLocked(parleyv1.CloseSlowConsumer, "send buffer full: client too slow")
		return session.ErrSendBufferFull
	}
}

// Close implements parleyv1.Wire.
func (w *conn) Close(code parleyv1.CloseCode, reason string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closeLocked(code, reason)
}

func (w *conn) closeLocked(code parleyv1.CloseCode, reason string) {
	if w.closed {
		return
	}
	w.closed, w.code, w.reason = true, code, reason
	close(w.closing)
}

func (w *conn) write(ctx context.Context, m outMsg) error {
	if w.writeTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, w.writeTimeout)
		defer cancel()
	}
	return w.c.Write(ctx, m.typ, m.data)
}

// run is the writer goroutine: it ends after the close handshake.
func (w *conn) run(ctx context.Context) {
	defer close(w.done)
	for {
		select {
		case m := <-w.out:
			if err := w.write(ctx, m); err != nil {
				w.log.Load().Info("websocket write failed", "error", err)
				w.Close(parleyv1.CloseSlowConsumer, "write failed or timed out")
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
func (w *conn) finish(ctx context.Context) {
	w.mu.Lock()
	code, reason := w.code, w.reason
	w.mu.Unlock()
	if code != parleyv1.CloseSlowConsumer {
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
	if err := w.c.Close(websocket.StatusCode(code), reason); err != nil && !errors.Is(err, context.Canceled) {
		w.log.Load().Debug("websocket close", "error", err)
	}
}
