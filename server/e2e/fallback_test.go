package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fallbackConfig chains the Anthropic plugin (pointed at a local fake)
// before the offline rules agent; one failure opens the breaker.
const fallbackConfig = `
http:
  addr: 127.0.0.1:0
plugins:
  instances:
    - name: stt-pocketsphinx
      kind: stt
      path: ./bin/plugins/stt-pocketsphinx
      start_timeout: 30s
      config: {pool_size: 1}
    - name: llm-anthropic
      kind: llm
      path: ./bin/plugins/llm-anthropic
      env: [ANTHROPIC_API_KEY]
      config:
        base_url: %s
        model: claude-sonnet-4-5
    - name: llm-rules
      kind: llm
      path: ./bin/plugins/llm-rules
    - name: tts-flite
      kind: tts
      path: ./bin/plugins/tts-flite
pipeline:
  stt: [stt-pocketsphinx]
  llm: [llm-anthropic, llm-rules]
  tts: [tts-flite]
resilience:
  breaker:
    consecutive_failures: 1
    open_timeout: 10m
  retry:
    max_attempts: 2
    initial_backoff: 10ms
`

// overloaded answers every Messages API call the way Anthropic does when
// it is overloaded: HTTP 529 with an overloaded_error body.
func overloaded(hits *atomic.Int32) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/messages" || r.Header.Get("x-api-key") != "test-key" {
			http.Error(w, `{"type":"error","error":{"type":"not_found_error","message":"unexpected request"}}`, http.StatusNotFound)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(529)
		_, _ = io.WriteString(w, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`)
	})
}

// TestFallbackWhenAnthropicOverloaded is issue 7's host-level test: with
// [llm-anthropic → llm-rules] and Anthropic answering 529, the session
// still answers through the fallback and /v1/plugins shows the open breaker.
func TestFallbackWhenAnthropicOverloaded(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs the server and plugins")
	}
	var hits atomic.Int32
	fake := httptest.NewServer(overloaded(&hits))
	defer fake.Close()
	srv := startServerWith(t, bins.get(t), fmt.Sprintf(fallbackConfig, fake.URL), "ANTHROPIC_API_KEY=test-key")

	ctx := t.Context()
	c, _, err := websocket.Dial(ctx, "ws://"+srv.addr+"/ws/voice", &websocket.DialOptions{Subprotocols: []string{"parley.v1"}})
	require.NoError(t, err)
	defer func() { _ = c.CloseNow() }()
	c.SetReadLimit(1 << 20)
	require.NoError(t, c.Write(ctx, websocket.MessageText, []byte(`{"type":"session.update","input_sample_rate":16000}`)))

	for round := range 2 {
		require.NoError(t, c.Write(ctx, websocket.MessageText, []byte(`{"type":"input.text","text":"what time is it"}`)))
		tr := readTurn(ctx, t, c)
		for _, e := range tr.events {
			assert.NotEqual(t, "error", e.Type, "round %d: the fallback answers, no error reaches the client: %+v", round, e)
		}
		call, ok := tr.first("tool.call")
		require.True(t, ok, "round %d: events %+v", round, tr.events)
		assert.Equal(t, "get_current_time", call.Name)
		assert.True(t, strings.HasPrefix(tr.text("response.text.delta"), "It is"), "rules agent's answer: %q", tr.text("response.text.delta"))
		assert.Positive(t, tr.audioFrames)
	}
	assert.Positive(t, hits.Load(), "the primary was tried")
	triedBeforeOpen := hits.Load()

	status := pluginStatus(t, srv.addr)
	assert.Equal(t, "open", status["llm-anthropic"].Breaker, "breaker state visible in /v1/plugins")
	assert.Equal(t, "running", status["llm-anthropic"].State, "the plugin process itself is fine")
	assert.Equal(t, "closed", status["llm-rules"].Breaker)
	assert.Equal(t, triedBeforeOpen, hits.Load(), "an open breaker sends nothing to the provider")
}

type pluginState struct {
	Name    string `json:"name"`
	State   string `json:"state"`
	Breaker string `json:"breaker"`
	PID     int    `json:"pid"`
}

func pluginStatus(t *testing.T, addr string) map[string]pluginState {
	t.Helper()
	st, err := fetchPluginStatus(t.Context(), addr)
	require.NoError(t, err)
	return st
}

// fetchPluginStatus reads GET /v1/plugins by plugin name.
func fetchPluginStatus(ctx context.Context, addr string) (map[string]pluginState, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v1/plugins", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /v1/plugins: %s", resp.Status)
	}
	var body struct {
		Plugins []pluginState `json:"plugins"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	out := map[string]pluginState{}
	for _, p := range body.Plugins {
		out[p.Name] = p
	}
	return out, nil
}

// sendText sends text as the user's typed turn (input.text).
func sendText(ctx context.Context, t *testing.T, c *websocket.Conn, text string) {
	t.Helper()
	msg, err := json.Marshal(map[string]string{"type": "input.text", "text": text})
	require.NoError(t, err)
	require.NoError(t, c.Write(ctx, websocket.MessageText, msg))
}

// typed sends one input.text and reads the turn.
func typed(t *testing.T, c *websocket.Conn, text string) *turn {
	t.Helper()
	sendText(t.Context(), t, c, text)
	return readTurn(t.Context(), t, c)
}

// readTurn reads events until the turn's metrics event.
func readTurn(ctx context.Context, t *testing.T, c *websocket.Conn) *turn {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, turnLimit)
	defer cancel()
	tr := &turn{}
	for {
		typ, data, err := c.Read(ctx)
		require.NoError(t, err, "events so far: %+v", tr.events)
		if typ == websocket.MessageBinary {
			tr.audioFrames++
			tr.audioBytes += len(data)
			continue
		}
		var e event
		require.NoError(t, json.Unmarshal(data, &e))
		tr.events = append(tr.events, e)
		if e.Type == "metrics" {
			return tr
		}
	}
}
