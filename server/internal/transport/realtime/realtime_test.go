package realtime_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/session"
	"github.com/parleyhq/parley/server/internal/session/sessiontest"
	"github.com/parleyhq/parley/server/internal/transport/realtime"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitFor bounds every wait; a failure guard, not a synchronisation sleep.
const waitFor = 20 * time.Second

type harness struct {
	t   *testing.T
	mgr *session.Manager
	srv *httptest.Server
	url string
}

func newHarness(t *testing.T, wsCfg config.WebSocket) *harness {
	t.Helper()
	llm := &sessiontest.LLM{Reply: func(req sdk.GenerateRequest) ([]sdk.GenerateEvent, error) {
		return sessiontest.Text("You said " + req.Messages[len(req.Messages)-1].Content + "."), nil
	}}
	scfg := config.Session{
		MaxSessions: 10, SystemPrompt: "Test.", Voice: "slt", Language: "en", OutputSampleRate: 16000,
		InterruptAfter: 300 * time.Millisecond, MaxToolRounds: 3, ClientToolTimeout: 10 * time.Second,
		MaxHistory: 50, OutputLookahead: 100 * time.Millisecond,
	}
	vad := config.VAD{
		MinSpeech: 100 * time.Millisecond, MinSilence: 300 * time.Millisecond, PreRoll: 200 * time.Millisecond,
		MinSilenceMin: 100 * time.Millisecond, MinSilenceMax: 2 * time.Second,
		ThresholdMin: 6, ThresholdMax: 24, MinSpeechMin: 60 * time.Millisecond, MinSpeechMax: 500 * time.Millisecond,
	}
	logger := slog.New(slog.DiscardHandler)
	mgr, err := session.NewManager(scfg, vad, config.Tools{}, session.Plugins{
		STT: &sessiontest.STT{}, LLM: llm, TTS: &sessiontest.TTS{WordDuration: 20 * time.Millisecond},
	}, nil, prometheus.NewRegistry(), logger)
	require.NoError(t, err)
	h := &harness{t: t, mgr: mgr}
	h.srv = httptest.NewServer(realtime.New(wsCfg, config.Auth{AllowedOrigins: []string{"https://app.example.com"}}, mgr, logger))
	h.url = "ws" + strings.TrimPrefix(h.srv.URL, "http") + realtime.Path + "?model=gpt-realtime"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		require.NoError(t, h.mgr.Drain(ctx))
		h.srv.Close()
	})
	return h
}

type client struct {
	t *testing.T
	c *websocket.Conn
}

func (h *harness) dial(opts *websocket.DialOptions) *client {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, h.url, opts)
	require.NoError(h.t, err)
	if resp.Body != nil {
		_ = resp.Body.Close()
	}
	c.SetReadLimit(1 << 20)
	h.t.Cleanup(func() { _ = c.CloseNow() })
	return &client{t: h.t, c: c}
}

func (c *client) send(js string) {
	c.t.Helper()
	require.NoError(c.t, c.c.Write(context.Background(), websocket.MessageText, []byte(js)))
}

// until reads events until one of type typ arrives and returns it with the
// types read before it.
func (c *client) until(typ string) (map[string]any, []string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	var seen []string
	for {
		_, data, err := c.c.Read(ctx)
		require.NoError(c.t, err, "waiting for %s after %v", typ, seen)
		var ev map[string]any
		require.NoError(c.t, json.Unmarshal(data, &ev))
		if ev["type"] == typ {
			return ev, seen
		}
		seen = append(seen, ev["type"].(string))
	}
}

func defaultWS() config.WebSocket {
	return config.WebSocket{MaxMessageBytes: 4096, MaxMessagesPerSecond: 1000, SendBuffer: 4096, WriteTimeout: 10 * time.Second}
}

// TestTextTurn: the Realtime subprotocol is selected, session.created
// comes first, and a created user message answered by response.create
// streams an audio response.
func TestTextTurn(t *testing.T) {
	h := newHarness(t, defaultWS())
	c := h.dial(&websocket.DialOptions{Subprotocols: []string{"realtime", "openai-insecure-api-key.k"}})
	assert.Equal(t, "realtime", c.c.Subprotocol())
	created, seen := c.until("session.created")
	assert.Empty(t, seen)
	assert.Equal(t, "gpt-realtime", created["session"].(map[string]any)["model"])
	c.send(`{"type":"conversation.item.create","item":{"type":"message","role":"user","content":[{"type":"input_text","text":"hello"}]}}`)
	c.send(`{"type":"response.create"}`)
	done, seen := c.until("response.done")
	assert.Contains(t, seen, "response.output_audio.delta")
	resp := done["response"].(map[string]any)
	assert.Equal(t, "completed", resp["status"])
	content := resp["output"].([]any)[0].(map[string]any)["content"].([]any)[0].(map[string]any)
	assert.Equal(t, "You said hello.", content["transcript"])
}

// TestLimits: binary and oversized messages get error events and the
// session goes on; a flood closes the connection with 1008.
func TestLimits(t *testing.T) {
	ws := defaultWS()
	ws.MaxMessagesPerSecond = 20
	h := newHarness(t, ws)
	c := h.dial(&websocket.DialOptions{Subprotocols: []string{"realtime"}})
	c.until("session.created")
	require.NoError(t, c.c.Write(context.Background(), websocket.MessageBinary, []byte{1, 2}))
	e, _ := c.until("error")
	assert.Equal(t, "binary_message", e["error"].(map[string]any)["code"])
	c.send(`{"type":"input_audio_buffer.append","audio":"` + strings.Repeat("A", 8000) + `"}`)
	e, _ = c.until("error")
	assert.Equal(t, "message_too_large", e["error"].(map[string]any)["code"])
	c.send(`{"type":"session.update","session":{"instructions":"x"}}`)
	c.until("session.updated")

	for range 50 {
		if err := c.c.Write(context.Background(), websocket.MessageText, []byte(`{"type":"input_audio_buffer.append","audio":"AAAA"}`)); err != nil {
			break
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	for {
		if _, _, err := c.c.Read(ctx); err != nil {
			assert.Equal(t, websocket.StatusPolicyViolation, websocket.CloseStatus(err), "%v", err)
			break
		}
	}
}

// TestForeignOrigin: a browser from another origin is refused like on
// /ws/voice.
func TestForeignOrigin(t *testing.T) {
	h := newHarness(t, defaultWS())
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, h.url, &websocket.DialOptions{
		Subprotocols: []string{"realtime"}, HTTPHeader: http.Header{"Origin": []string{"https://evil.example"}},
	})
	require.Error(t, err)
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
}
