package e2e

import (
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// tracingConfig is the Anthropic plugin against a local fake, the offline
// STT and TTS, and tracing to an in-test OTLP receiver (%[2]s).
const tracingConfig = `
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
        base_url: %[1]s
        model: claude-sonnet-4-5
    - name: tts-flite
      kind: tts
      path: ./bin/plugins/tts-flite
pipeline:
  stt: [stt-pocketsphinx]
  llm: [llm-anthropic]
  tts: [tts-flite]
telemetry:
  tracing:
    enabled: true
    endpoint: %[2]s
    protocol: http/protobuf
    sample_ratio: 1
`

// otlpSpan is one received span with its process's service name.
type otlpSpan struct {
	service string
	span    *tracepb.Span
}

// otlpReceiver is an OTLP/HTTP trace endpoint (POST /v1/traces,
// protobuf) that keeps every span it is sent.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []otlpSpan
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	var req coltrace.ExportTraceServiceRequest
	if err != nil || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" || proto.Unmarshal(body, &req) != nil {
		http.Error(w, "bad export", http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	for _, rs := range req.GetResourceSpans() {
		service := attrString(rs.GetResource().GetAttributes(), "service.name")
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				o.spans = append(o.spans, otlpSpan{service: service, span: s})
			}
		}
	}
	o.mu.Unlock()
	out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func (o *otlpReceiver) all() []otlpSpan {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]otlpSpan(nil), o.spans...)
}

func attrString(kvs []*commonpb.KeyValue, key string) string {
	for _, kv := range kvs {
		if kv.GetKey() == key {
			return kv.GetValue().GetStringValue()
		}
	}
	return ""
}

// TestTracingIntoPlugin is issue 18's tracing proof with the real server,
// the real Anthropic plugin process and a real OTLP receiver: one trace
// holds session → turn → llm from Parley and, below the llm span, spans
// made inside the plugin process; the provider got a traceparent naming
// the plugin's HTTP span; without include_content no span holds what the
// user typed.
func TestTracingIntoPlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs the server and plugins")
	}
	recv := &otlpReceiver{}
	collector := httptest.NewServer(recv)
	defer collector.Close()
	fake := &fakeAnthropic{heard: map[string]chan string{}}
	var parentsMu sync.Mutex
	var parents []string
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parentsMu.Lock()
		parents = append(parents, r.Header.Get("traceparent"))
		parentsMu.Unlock()
		fake.ServeHTTP(w, r)
	}))
	defer provider.Close()
	srv := startServerWith(t, bins.get(t), fmt.Sprintf(tracingConfig, provider.URL, collector.URL), "ANTHROPIC_API_KEY=test-key")

	const typed = "please remember the zebra password"
	ctx := t.Context()
	c, _, err := websocket.Dial(ctx, "ws://"+srv.addr+"/ws/voice", &websocket.DialOptions{Subprotocols: []string{"parley.v1"}})
	require.NoError(t, err)
	defer func() { _ = c.CloseNow() }()
	c.SetReadLimit(1 << 20)
	require.NoError(t, c.Write(ctx, websocket.MessageText, []byte(`{"type":"session.update","input_sample_rate":16000}`)))
	require.NoError(t, c.Write(ctx, websocket.MessageText, []byte(`{"type":"input.text","text":"`+typed+`"}`)))
	tr := readTurn(ctx, t, c)
	assert.Equal(t, "Okay.", tr.text("response.text.delta"))
	require.NoError(t, c.Close(websocket.StatusNormalClosure, "done"))
	// SIGTERM: the drain ends the session and stops the plugin; both
	// processes flush their spans on the way out.
	require.NoError(t, srv.stop())

	spans := recv.all()
	byID := map[string]otlpSpan{}
	for _, s := range spans {
		byID[hex.EncodeToString(s.span.GetSpanId())] = s
	}
	find := func(service, name string) otlpSpan {
		t.Helper()
		for _, s := range spans {
			if s.service == service && s.span.GetName() == name {
				return s
			}
		}
		var got []string
		for _, s := range spans {
			got = append(got, s.service+"/"+s.span.GetName())
		}
		require.Failf(t, "span missing", "%s/%s not among %v", service, name, got)
		return otlpSpan{}
	}
	parentOf := func(s otlpSpan) string { return hex.EncodeToString(s.span.GetParentSpanId()) }
	id := func(s otlpSpan) string { return hex.EncodeToString(s.span.GetSpanId()) }

	sess := find("parley", "session")
	turn := find("parley", "turn")
	llm := find("parley", "llm")
	assert.Empty(t, sess.span.GetParentSpanId(), "the session is the root")
	assert.Equal(t, id(sess), parentOf(turn))
	assert.Equal(t, id(turn), parentOf(llm))
	assert.Equal(t, "websocket", attrString(sess.span.GetAttributes(), "parley.transport"))
	assert.Equal(t, "loopback", attrString(sess.span.GetAttributes(), "parley.remote_ip_class"))
	assert.Equal(t, "llm-anthropic", attrString(llm.span.GetAttributes(), "gen_ai.system"))
	assert.Equal(t, "claude-sonnet-4-5", attrString(llm.span.GetAttributes(), "gen_ai.request.model"))

	// Inside the plugin: the HTTP call to the provider, whose ancestors
	// lead through the plugin's gRPC server span and the host's client
	// span to the llm span.
	const plugin = "parley-plugin-llm-anthropic"
	httpSpan := find(plugin, "HTTP POST")
	chat := find(plugin, "chat claude-sonnet-4-5")
	assert.Equal(t, "anthropic", attrString(chat.span.GetAttributes(), "gen_ai.system"))
	assert.Equal(t, id(chat), parentOf(httpSpan))
	chain := []string{}
	for s, ok := httpSpan, true; ok; s, ok = byID[parentOf(s)] {
		chain = append(chain, s.service+"/"+s.span.GetName())
		assert.Equal(t, sess.span.GetTraceId(), s.span.GetTraceId(), "one trace: %s", s.span.GetName())
		if id(s) == id(llm) {
			break
		}
	}
	t.Logf("from the provider call up: %v", chain)
	assert.Equal(t, "parley/llm", chain[len(chain)-1], "the plugin's spans descend from the llm span: %v", chain)
	assert.GreaterOrEqual(t, len(chain), 4, "HTTP → chat → plugin gRPC server → … → llm: %v", chain)

	parentsMu.Lock()
	got := append([]string(nil), parents...)
	parentsMu.Unlock()
	require.Len(t, got, 1)
	assert.Equal(t, "00-"+hex.EncodeToString(sess.span.GetTraceId())+"-"+id(httpSpan)+"-01", got[0],
		"the provider got the plugin's HTTP span as parent")

	// include_content is false: no attribute of any span holds the text.
	for _, s := range spans {
		for _, kv := range s.span.GetAttributes() {
			assert.NotContains(t, kv.GetValue().String(), "zebra", "%s/%s %s", s.service, s.span.GetName(), kv.GetKey())
		}
		for _, ev := range s.span.GetEvents() {
			for _, kv := range ev.GetAttributes() {
				assert.NotContains(t, kv.GetValue().String(), "zebra")
			}
		}
		assert.NotContains(t, s.span.GetName(), "zebra")
	}
	assert.True(t, strings.Contains(srv.logs.String(), "tracing on"), "the start-up log says tracing is on")
}
