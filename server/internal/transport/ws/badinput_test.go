package ws_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/protocol/parleyv1"
	"github.com/parleyhq/parley/server/internal/session"
	"github.com/parleyhq/parley/server/internal/session/sessiontest"
)

// TestBadInput: every malformed input gets an error event with a stable
// code, and the session keeps going (a ping still gets its pong).
func TestBadInput(t *testing.T) {
	tests := []struct {
		name    string
		ready   bool
		typ     websocket.MessageType
		payload []byte
		code    session.ErrorCode
		detail  map[string]string
	}{
		{name: "non-JSON text", ready: true, typ: websocket.MessageText, payload: []byte("hello{"), code: parleyv1.CodeInvalidJSON},
		{name: "unknown type", ready: true, typ: websocket.MessageText, payload: []byte(`{"type":"dance"}`), code: parleyv1.CodeUnknownType, detail: map[string]string{"type": "dance"}},
		{name: "missing type", ready: true, typ: websocket.MessageText, payload: []byte(`{"text":"hi"}`), code: parleyv1.CodeInvalidMessage, detail: map[string]string{"field": "type"}},
		{name: "wrong field type", ready: true, typ: websocket.MessageText, payload: []byte(`{"type":"input.text","text":5}`), code: parleyv1.CodeInvalidMessage, detail: map[string]string{"field": "text"}},
		{name: "wrong nested type", ready: true, typ: websocket.MessageText, payload: []byte(`{"type":"session.update","vad":{"min_silence_ms":"long"}}`), code: parleyv1.CodeInvalidMessage, detail: map[string]string{"field": "vad.min_silence_ms"}},
		{name: "odd-length binary", ready: true, typ: websocket.MessageBinary, payload: make([]byte, 641), code: session.CodeOddLengthAudio},
		{name: "binary over maximum", ready: true, typ: websocket.MessageBinary, payload: make([]byte, 8194), code: parleyv1.CodeMessageTooLarge, detail: map[string]string{"max_bytes": "8192"}},
		{name: "text over maximum", ready: true, typ: websocket.MessageText, payload: []byte(`{"type":"input.text","text":"` + strings.Repeat("a", 9000) + `"}`), code: parleyv1.CodeMessageTooLarge},
		{name: "unsupported input rate", ready: true, typ: websocket.MessageText, payload: []byte(`{"type":"session.update","input_sample_rate":44100}`), code: session.CodeUnsupportedSampleRate, detail: map[string]string{"field": "input_sample_rate"}},
		{name: "unsupported output rate", ready: true, typ: websocket.MessageText, payload: []byte(`{"type":"session.update","output_sample_rate":11025}`), code: session.CodeUnsupportedSampleRate},
		{name: "audio before session.update", ready: false, typ: websocket.MessageBinary, payload: make([]byte, 640), code: session.CodeSessionNotReady},
		{name: "tool.result for unknown call", ready: true, typ: websocket.MessageText, payload: []byte(`{"type":"tool.result","call_id":"nope","output":"x"}`), code: session.CodeUnknownToolCall, detail: map[string]string{"call_id": "nope"}},
		{name: "VAD setting out of limits", ready: true, typ: websocket.MessageText, payload: []byte(`{"type":"session.update","vad":{"min_silence_ms":5}}`), code: session.CodeInvalidField, detail: map[string]string{"field": "vad.min_silence_ms"}},
		{name: "client tool shadows server tool", ready: true, typ: websocket.MessageText, payload: []byte(`{"type":"session.update","tools":[{"name":"calculator"}]}`), code: session.CodeInvalidField},
		{name: "empty input.text", ready: true, typ: websocket.MessageText, payload: []byte(`{"type":"input.text","text":""}`), code: parleyv1.CodeInvalidMessage},
	}
	h := newHarness(t, scripted(map[string][]sdk.GenerateEvent{"*": sessiontest.Text("Hi.")}), nil)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := h.dial(true)
			c.t = t
			if tc.ready {
				c.ready(nil)
			}
			c.sendRaw(tc.typ, tc.payload)
			ev := c.expect(parleyv1.TypeError)
			assert.Equal(t, string(tc.code), ev.str("code"))
			assert.NotEmpty(t, ev.str("message"))
			details, ok := ev["details"].(map[string]any)
			require.True(t, ok, "details is an object")
			for k, v := range tc.detail {
				assert.Equal(t, v, details[k], k)
			}
			c.sendJSON(map[string]any{"type": "ping", "id": tc.name})
			pong := c.expect(parleyv1.TypePong)
			assert.Equal(t, tc.name, pong.str("id"))
			_ = i
			require.NoError(t, c.c.Close(websocket.StatusNormalClosure, "bye"))
		})
	}
}

// TestFlood: beyond MaxMessagesPerSecond the connection is closed with
// 1008 and the session is cleaned up.
func TestFlood(t *testing.T) {
	h := newHarness(t, scripted(nil), func(s *setup) { s.ws.MaxMessagesPerSecond = 20 })
	c := h.dial(true)
	// The clock does not move: the bucket (burst 20) cannot refill.
	for i := 0; i < 40; i++ {
		if err := c.c.Write(context.Background(), websocket.MessageText, []byte(`{"type":"ping"}`)); err != nil {
			break
		}
	}
	assert.Equal(t, websocket.StatusPolicyViolation, c.closeStatus())
	assert.Eventually(t, func() bool { return h.mgr.Count() == 0 }, waitFor, frameDur)
}

// TestSlowConsumer: a client that stops reading fills the bounded send
// buffer; the session ends and the connection closes with 4001.
func TestSlowConsumer(t *testing.T) {
	long := strings.Repeat("word ", 2500) // 250 s of audio, 8 MB
	h := newHarness(t, scripted(map[string][]sdk.GenerateEvent{"*": sessiontest.Text(long)}), func(s *setup) {
		s.ws.SendBuffer = 8
		s.ws.MaxMessageBytes = 1 << 16
		// A huge look-ahead lets the pacer push all 800 s of audio at once.
		s.session.OutputLookahead = time.Hour
	})
	c := h.dialSmallBuffer()
	c.sendJSON(map[string]any{"type": "input.text", "text": "talk"})
	// The client reads nothing: the kernel buffers fill, then the send queue.
	require.Eventually(t, func() bool { return h.mgr.Count() == 0 }, waitFor, frameDur)
	c.startReading()
	assert.Equal(t, websocket.StatusCode(parleyv1.CloseSlowConsumer), c.closeStatus())
}

// refusal dials and expects an HTTP refusal with code.
func refusal(t *testing.T, h *harness, code session.ErrorCode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, h.url, &websocket.DialOptions{Subprotocols: []string{parleyv1.Version}})
	if c != nil {
		_ = c.CloseNow()
	}
	require.Error(t, err)
	require.NotNil(t, resp)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "5", resp.Header.Get("Retry-After"))
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var eb struct {
		Error struct {
			Code    string            `json:"code"`
			Message string            `json:"message"`
			Details map[string]string `json:"details"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal(body, &eb), string(body))
	assert.Equal(t, string(code), eb.Error.Code)
	assert.NotEmpty(t, eb.Error.Message)
}

func TestAdmission(t *testing.T) {
	t.Run("session limit", func(t *testing.T) {
		h := newHarness(t, scripted(nil), func(s *setup) { s.session.MaxSessions = 2 })
		h.dial(true)
		h.dial(true)
		refusal(t, h, session.CodeSessionLimit)
	})
	t.Run("per-IP cap", func(t *testing.T) {
		h := newHarness(t, scripted(nil), func(s *setup) { s.session.MaxSessionsPerIP = 1 })
		c := h.dial(true)
		refusal(t, h, session.CodeIPLimit)
		// The slot comes back when the first session ends.
		require.NoError(t, c.c.Close(websocket.StatusNormalClosure, "bye"))
		require.Eventually(t, func() bool { return h.mgr.Count() == 0 }, waitFor, frameDur)
		h.dial(true)
	})
	t.Run("drain", func(t *testing.T) {
		h := newHarness(t, scripted(nil), nil)
		a, b := h.dial(true), h.dial(true)
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		require.NoError(t, h.mgr.Drain(ctx))
		assert.Equal(t, 0, h.mgr.Count())
		assert.Equal(t, websocket.StatusGoingAway, a.closeStatus())
		assert.Equal(t, websocket.StatusGoingAway, b.closeStatus())
		refusal(t, h, session.CodeDraining)
	})
}
