package e2e

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk/providerhttp/providertest"
)

// providerFaultConfig chains the Anthropic plugin (against a local fake)
// before the sim LLM; the breaker stays closed so that every phase of the
// fake is met.
const providerFaultConfig = `
http:
  addr: 127.0.0.1:0
rate_limit:
  enabled: false
plugins:
  instances:
    - name: stt-sim
      kind: stt
      path: ./bin/plugins/simplugin
      args: ["-kind", "stt"]
    - name: llm-anthropic
      kind: llm
      path: ./bin/plugins/llm-anthropic
      env: [ANTHROPIC_API_KEY]
      config:
        base_url: %s
        model: claude-sonnet-4-5
    - name: llm-sim
      kind: llm
      path: ./bin/plugins/simplugin
      args: ["-kind", "llm"]
    - name: tts-flite
      kind: tts
      path: ./bin/plugins/tts-flite
pipeline:
  stt: [stt-sim]
  llm: [llm-anthropic, llm-sim]
  tts: [tts-flite]
resilience:
  breaker:
    consecutive_failures: 100
  retry:
    max_attempts: 2
    initial_backoff: 10ms
`

// Provider fault phases, by request number (1-based).
const (
	last500 = 2 // requests 1–2: HTTP 500 with a body naming an internal address
	last429 = 4 // 3–4: 429 with Retry-After
	lastCut = 5 // 5: the stream starts, then the connection drops
	// providerTurns is enough turns to pass every phase and then some.
	providerTurns = 5
)

// TestFaultProviderErrors: the provider behind the Anthropic plugin answers
// 500s, then 429 with Retry-After, then drops the connection mid-stream,
// then recovers. Every turn is answered — by the fallback, by the provider
// asked again, or by the provider once healthy — and no error or provider
// text reaches the client.
func TestFaultProviderErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs the server and plugins")
	}
	ok := providertest.SSEFixture(t, filepath.Join(repoRoot(t), "plugins", "llm-anthropic", "testdata", "text.sse"))
	var hits atomic.Int32
	fake := providertest.NewServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch n := hits.Add(1); {
		case n <= last500:
			providertest.ErrorHandler(http.StatusInternalServerError, nil,
				`{"type":"error","error":{"type":"api_error","message":"upstream 10.1.2.3:8443 failed"}}`)(w, r)
		case n <= last429:
			providertest.ErrorHandler(http.StatusTooManyRequests, http.Header{"Retry-After": {"1"}},
				`{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}`)(w, r)
		case n <= lastCut:
			providertest.StartSSE(w)
			providertest.WriteEvents(w, ok[:4]...) // message_start … first text delta
			providertest.HijackClose(t, w)
		default:
			providertest.SSEHandler(ok...)(w, r)
		}
	})
	fake.DiscardRequests()
	srv := startServerWith(t, bins.get(t), fmt.Sprintf(providerFaultConfig, fake.URL), "ANTHROPIC_API_KEY=test-key")
	ctx, cancel := context.WithTimeout(t.Context(), time.Duration(providerTurns)*turnLimit)
	defer cancel()
	tk, err := dialTalker(ctx, srv.addr)
	require.NoError(t, err)
	defer func() { _ = tk.c.CloseNow() }()
	var errs []faultEvent
	fromProvider := 0
	for i := range providerTurns {
		require.NoError(t, tk.c.Write(ctx, websocket.MessageText, []byte(`{"type":"input.text","text":"hello"}`)))
		var done faultEvent
		for done.Type == "" {
			select {
			case e := <-tk.events:
				switch e.Type {
				case "error":
					errs = append(errs, e)
				case "response.done":
					done = e
				}
			case <-tk.frames:
			case err := <-tk.readErr:
				require.NoError(t, err)
			case <-ctx.Done():
				t.Fatalf("turn %d: no response.done", i)
			}
		}
		assert.Equal(t, "completed", done.Status, "turn %d answered", i)
		if done.Text == "Hello!" {
			fromProvider++
		}
	}
	assert.Empty(t, errs, "no error reaches the client")
	assertCleanErrors(t, errs)
	assert.GreaterOrEqual(t, int(hits.Load()), lastCut+1, "every phase was met")
	assert.Positive(t, fromProvider, "the provider answers again once healthy")
	t.Logf("provider faults: %d requests to the fake, %d of %d turns answered by it, the rest by the fallback", hits.Load(), fromProvider, providerTurns)
}
