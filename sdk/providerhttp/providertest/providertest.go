// Package providertest is a local stand-in for a hosted provider API in a
// provider plugin's tests: an httptest server that records every request
// and counts connections, with helpers to answer with Server-Sent Events,
// error bodies or a dropped connection. It dials nothing but loopback.
package providertest

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
)

// requestBuffer is how many requests wait to be read from Requests before
// the server blocks (call DiscardRequests in tests that make more).
const requestBuffer = 16

// Request is one request the server received.
type Request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// Server is a recording fake provider. Its URL, Client and Config are the
// embedded httptest.Server's.
type Server struct {
	*httptest.Server
	// Requests receives every request before the handler runs.
	Requests chan Request
	// Released is closed when the test ends, before the server closes, so
	// that handlers that block to simulate a slow provider always return.
	Released chan struct{}

	conns atomic.Int32
}

// NewServer starts a fake that records each request and then runs h. It
// stops when the test ends.
func NewServer(t testing.TB, h http.HandlerFunc) *Server {
	t.Helper()
	return start(t, h, true)
}

// NewServerClosingConns is NewServer without keep-alive: every connection
// is closed after one response.
func NewServerClosingConns(t testing.TB, h http.HandlerFunc) *Server {
	t.Helper()
	return start(t, h, false)
}

func start(t testing.TB, h http.HandlerFunc, keepAlive bool) *Server {
	t.Helper()
	s := &Server{Requests: make(chan Request, requestBuffer), Released: make(chan struct{})}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.Requests <- Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body}
		h(w, r)
	}))
	s.Config.SetKeepAlivesEnabled(keepAlive)
	s.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	t.Cleanup(func() { close(s.Released) }) // runs before s.Close
	return s
}

// Conns returns how many TCP connections the server accepted.
func (s *Server) Conns() int { return int(s.conns.Load()) }

// DiscardRequests stops recording requests, for tests that make many.
func (s *Server) DiscardRequests() {
	go func() {
		for {
			select {
			case <-s.Requests:
			case <-s.Released:
				return
			}
		}
	}()
}

// LastRequest returns the oldest request not read yet, failing the test
// when there is none.
func (s *Server) LastRequest(t testing.TB) Request {
	t.Helper()
	select {
	case r := <-s.Requests:
		return r
	default:
		t.Fatal("the fake received no request")
		return Request{}
	}
}

// StartSSE writes the headers of a successful event stream.
func StartSSE(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
}

// WriteEvents writes raw events, flushing after each one as providers do.
func WriteEvents(w http.ResponseWriter, events ...string) {
	for _, ev := range events {
		_, _ = io.WriteString(w, ev)
		w.(http.Flusher).Flush()
	}
}

// SSEHandler answers with events and ends the response.
func SSEHandler(events ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		StartSSE(w)
		WriteEvents(w, events...)
	}
}

// ErrorHandler answers with a status, extra headers and a JSON body.
func ErrorHandler(status int, header http.Header, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for k, v := range header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// HijackClose drops the TCP connection without ending the HTTP response,
// as a provider that crashes mid-stream does.
func HijackClose(t testing.TB, w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	_ = conn.Close()
}

// SSEFixture reads a recorded event stream (a file of events separated by
// blank lines) and returns its events, each ending with its blank line.
func SSEFixture(t testing.TB, path string) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	var out []string
	for _, ev := range strings.SplitAfter(string(raw), "\n\n") {
		if strings.TrimSpace(ev) != "" {
			out = append(out, ev)
		}
	}
	if len(out) == 0 {
		t.Fatalf("fixture %s holds no events", path)
	}
	return out
}
