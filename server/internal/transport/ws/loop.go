package ws

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/parleyhq/parley/server/internal/clock"
	"github.com/parleyhq/parley/server/internal/session"
)

// Limits bound what a client may send on a session's WebSocket.
type Limits struct {
	// MaxMessageBytes: larger messages are read off and refused.
	MaxMessageBytes int64
	// MaxMessagesPerSecond: beyond it the session ends (0 = no limit).
	MaxMessagesPerSecond int
}

// ReadMessages moves a client's messages into its session until the
// connection ends, whatever the protocol: over the message rate the
// session is closed (EndPolicyViolation) and further messages are read
// and dropped until the close handshake; a message over MaxMessageBytes
// is read off and tooBig is told its size; every other one goes to
// deliver, whose session.ErrConnClosed (the session ended) also switches
// to dropping.
func ReadMessages(ctx context.Context, c *websocket.Conn, lim Limits, clk clock.Clock, sess *session.Session, log *slog.Logger,
	tooBig func(size int64), deliver func(typ websocket.MessageType, data []byte) error,
) {
	var limiter *rate.Limiter
	if n := lim.MaxMessagesPerSecond; n > 0 {
		limiter = rate.NewLimiter(rate.Limit(n), n)
	}
	limit := lim.MaxMessageBytes
	dropping := false
	hint := 0 // the last message's size: audio frames repeat it
	for {
		typ, rd, err := c.Reader(ctx)
		if err != nil {
			return
		}
		data, err := readMessage(rd, limit+1, hint)
		if err != nil {
			return
		}
		hint = len(data)
		if dropping {
			if _, err := io.Copy(io.Discard, rd); err != nil {
				return
			}
			continue
		}
		if limiter != nil && !limiter.AllowN(clk.Now(), 1) {
			dropping = true
			log.Warn("client message rate exceeded", "max_messages_per_second", lim.MaxMessagesPerSecond)
			sess.Close(session.EndPolicyViolation, "message rate exceeded")
			continue
		}
		if int64(len(data)) > limit {
			n, err := io.Copy(io.Discard, rd)
			if err != nil {
				return
			}
			tooBig(int64(len(data)) + n)
			continue
		}
		if errors.Is(deliver(typ, data), session.ErrConnClosed) {
			dropping = true // the session ended: drain until the close handshake
		}
	}
}

// readMessage reads a message of at most max bytes into one buffer sized
// for hint bytes (plus one, to see the end without growing): a stream of
// same-size audio frames costs one allocation each, where io.ReadAll's
// growth from 512 bytes cost two or three. The buffer is the caller's to
// keep (the session holds audio until its loop takes it).
func readMessage(rd io.Reader, limit int64, hint int) ([]byte, error) {
	buf := make([]byte, 0, min(int64(hint)+1, limit))
	for int64(len(buf)) < limit {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // grow (append's policy)
		}
		free := buf[len(buf):int(min(int64(cap(buf)), limit))]
		n, err := rd.Read(free)
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
	return buf, nil
}

// KeepAlive pings the client every interval until the session ends; a
// ping not answered within the interval ends the session (EndIdle).
// interval 0 turns it off.
func KeepAlive(ctx context.Context, c *websocket.Conn, interval time.Duration, sess *session.Session) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-sess.Done():
			return
		case <-t.C:
			pctx, cancel := context.WithTimeout(ctx, interval)
			err := c.Ping(pctx)
			cancel()
			if err != nil {
				sess.Close(session.EndIdle, "ping not answered")
				return
			}
		}
	}
}
