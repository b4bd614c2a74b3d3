package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/protocol/parleyv1"
)

// Wire settings of a /ws/voice caller.
const (
	// outputRate is the agent audio rate the caller asks for.
	outputRate = audio.SampleRate
	// readLimit bounds one message from the server.
	readLimit = 1 << 20
	// closeReason is sent when the run ends a caller.
	closeReason = "load test over"
	// bytesPerSample of PCM16.
	bytesPerSample = 2
)

// sessionUpdate asks for 16 kHz PCM both ways.
const sessionUpdate = `{"type":"` + parleyv1.TypeSessionUpdate + `","input_sample_rate":16000,"output_sample_rate":16000}`

// wsTransport is /ws/voice: 16 kHz PCM16 both ways in binary messages.
type wsTransport struct {
	cfg *Config
	url string
}

func newWSTransport(cfg *Config) (transport, frames, error) {
	u, err := parleyv1.VoiceURL(cfg.URL)
	if err != nil {
		return nil, frames{}, fmt.Errorf("%w: --url: %w", ErrInvalidConfig, err)
	}
	var f frames
	for _, c := range chunks(cfg.Speech) {
		f.question = append(f.question, audio.EncodePCM16LE(make([]byte, 0, audio.FrameBytes), c))
	}
	f.silence = make([]byte, audio.FrameBytes)
	return &wsTransport{cfg: cfg, url: u}, f, nil
}

// lateMargin: TCP delivers a paced stream in order; one frame of slack.
func (t *wsTransport) lateMargin() time.Duration { return audio.FrameDuration }

func (t *wsTransport) dial(ctx context.Context) (voiceConn, error) {
	opts := &websocket.DialOptions{Subprotocols: []string{parleyv1.Version}}
	if t.cfg.Token != "" {
		opts.HTTPHeader = http.Header{"Authorization": []string{"Bearer " + t.cfg.Token}}
	}
	hctx, cancel := context.WithTimeout(ctx, t.cfg.TurnTimeout)
	defer cancel()
	conn, resp, err := websocket.Dial(hctx, t.url, opts)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial: HTTP %d: %w", resp.StatusCode, err)
		}
		return nil, fmt.Errorf("dial: %w", err)
	}
	conn.SetReadLimit(readLimit)
	_, hello, err := conn.Read(hctx)
	if err != nil {
		_ = conn.CloseNow()
		return nil, fmt.Errorf("handshake: %w", err)
	}
	if !isEstablished(hello) {
		_ = conn.CloseNow()
		return nil, fmt.Errorf("%w: %.200s", ErrHandshake, hello)
	}
	if err := conn.Write(hctx, websocket.MessageText, []byte(sessionUpdate)); err != nil {
		_ = conn.CloseNow()
		return nil, fmt.Errorf("session.update: %w", err)
	}
	return &wsConn{conn: conn}, nil
}

// isEstablished reports whether an event is connection.established.
func isEstablished(data []byte) bool {
	var ev struct {
		Type string `json:"type"`
	}
	return json.Unmarshal(data, &ev) == nil && ev.Type == parleyv1.TypeConnectionEstablished
}

// wsConn is one /ws/voice session.
type wsConn struct {
	conn *websocket.Conn
}

// send writes every frame, silent or not: /ws/voice carries raw PCM.
func (c *wsConn) send(ctx context.Context, frame []byte, _ bool) (bool, error) {
	if err := c.conn.Write(ctx, websocket.MessageBinary, frame); err != nil {
		return false, fmt.Errorf("send audio: %w", err)
	}
	return true, nil
}

func (c *wsConn) recv(ctx context.Context) (message, error) {
	typ, data, err := c.conn.Read(ctx)
	if err != nil {
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			return message{}, fmt.Errorf("closed by server: %d %s: %w", ce.Code, ce.Reason, err)
		}
		return message{}, fmt.Errorf("read: %w", err)
	}
	m := message{at: time.Now(), data: data}
	if typ == websocket.MessageBinary {
		m.audio, m.d = true, time.Duration(len(data)/bytesPerSample)*time.Second/outputRate
	}
	return m, nil
}

func (c *wsConn) hangUp() error {
	if err := c.conn.Close(websocket.StatusNormalClosure, closeReason); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return nil
}

func (c *wsConn) closeNow() { _ = c.conn.CloseNow() }
