package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
)

const testAPIKey = "sk-proj-test-key"

// recorded is one request the fake received.
type recorded struct {
	method string
	path   string
	header http.Header
	body   []byte
}

// fakeServer is a local stand-in for api.openai.com or a compatible server. Its handler is
// chosen per test; every request is recorded first.
type fakeServer struct {
	srv      *httptest.Server
	requests chan recorded
	// released is closed when the test ends, so that handlers that block
	// to simulate a slow provider always return.
	released chan struct{}
	// conns counts the TCP connections the fake accepted.
	conns atomic.Int32
}

func newFake(t testing.TB, h http.HandlerFunc) *fakeServer {
	t.Helper()
	return startFake(t, h, true)
}

// startFake starts a fake; without keep-alive it closes every connection
// after one response.
func startFake(t testing.TB, h http.HandlerFunc, keepAlive bool) *fakeServer {
	t.Helper()
	f := &fakeServer{requests: make(chan recorded, 16), released: make(chan struct{})}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.requests <- recorded{method: r.Method, path: r.URL.Path, header: r.Header.Clone(), body: body}
		h(w, r)
	}))
	f.srv.Config.SetKeepAlivesEnabled(keepAlive)
	f.srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			f.conns.Add(1)
		}
	}
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	t.Cleanup(func() { close(f.released) }) // runs before srv.Close
	return f
}

// discardRequests stops recording requests, for tests that make many.
func (f *fakeServer) discardRequests() {
	go func() {
		for {
			select {
			case <-f.requests:
			case <-f.released:
				return
			}
		}
	}()
}

// lastRequest returns the request the fake received.
func (f *fakeServer) lastRequest(t *testing.T) recorded {
	t.Helper()
	select {
	case r := <-f.requests:
		return r
	default:
		require.FailNow(t, "the fake received no request")
		return recorded{}
	}
}

// sseEvents splits a fixture into its events, each ending with its blank line.
func sseEvents(t testing.TB, fixture string) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", fixture))
	require.NoError(t, err)
	var out []string
	for _, ev := range strings.SplitAfter(string(raw), "\n\n") {
		if strings.TrimSpace(ev) != "" {
			out = append(out, ev)
		}
	}
	require.NotEmpty(t, out)
	return out
}

// jsonValid reports whether raw is valid JSON.
func jsonValid(raw json.RawMessage) bool { return json.Valid(raw) }

// startStream writes the headers of a successful streaming response.
func startStream(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
}

// writeEvents writes raw SSE events, flushing after each one as the API does.
func writeEvents(w http.ResponseWriter, events ...string) {
	for _, ev := range events {
		_, _ = io.WriteString(w, ev)
		w.(http.Flusher).Flush()
	}
}

// dataEvent formats one unnamed SSE event, as Chat Completions sends them.
func dataEvent(data string) string {
	return "data: " + data + "\n\n"
}

// chunkEvent formats a chat.completion.chunk event with the given choices
// JSON (an array) and usage JSON (null or an object).
func chunkEvent(choices, usage string) string {
	return dataEvent(`{"id":"chatcmpl-t","object":"chat.completion.chunk","created":1727000000,"model":"gpt-4o-mini","choices":` + choices + `,"usage":` + usage + `}`)
}

// streamHandler replays events and ends the response.
func streamHandler(events ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		startStream(w)
		writeEvents(w, events...)
	}
}

// errorHandler answers with a status, headers and a JSON error body.
func errorHandler(status int, header http.Header, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for k, v := range header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// hijackClose drops the TCP connection without ending the HTTP response.
func hijackClose(t *testing.T, w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	_ = conn.Close()
}

// envMap is a getenv over a fixed map.
func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// newTestPlugin returns a plugin configured against baseURL with extra
// settings merged over base_url.
func newTestPlugin(t testing.TB, baseURL string, extra map[string]any) *plugin {
	t.Helper()
	client := &http.Client{}
	t.Cleanup(client.CloseIdleConnections)
	p := newPlugin(client, envMap(map[string]string{defaultAPIKeyEnv: testAPIKey}), slog.New(slog.DiscardHandler))
	settings := map[string]any{"base_url": baseURL + "/v1"}
	for k, v := range extra {
		settings[k] = v
	}
	raw, err := json.Marshal(settings)
	require.NoError(t, err)
	require.NoError(t, p.Configure(context.Background(), raw))
	return p
}

// collect reads a stream to its end and returns its events and the error
// that ended it (io.EOF after a complete generation).
func collect(t *testing.T, s sdk.LLMStream) ([]sdk.GenerateEvent, error) {
	t.Helper()
	var evs []sdk.GenerateEvent
	for {
		ev, err := s.Recv()
		if err != nil {
			return evs, err
		}
		evs = append(evs, ev)
	}
}

// text joins the text deltas of events.
func text(evs []sdk.GenerateEvent) string {
	var b bytes.Buffer
	for _, ev := range evs {
		b.WriteString(ev.TextDelta)
	}
	return b.String()
}

// sdkError returns err as an *sdk.Error or fails the test.
func sdkError(t *testing.T, err error) *sdk.Error {
	t.Helper()
	var e *sdk.Error
	require.True(t, errors.As(err, &e), "want *sdk.Error, got %T: %v", err, err)
	return e
}
