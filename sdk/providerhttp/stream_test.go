package providerhttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/parleyhq/parley/sdk"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// sseServer serves handler and returns a client whose idle connections
// are closed when the test ends.
func sseServer(t *testing.T, handler http.HandlerFunc) (*httptest.Server, *http.Client) {
	t.Helper()
	srv := httptest.NewServer(handler)
	client := &http.Client{Transport: NewTransport(TransportOptions{ConnectTimeout: time.Second})}
	t.Cleanup(func() {
		client.CloseIdleConnections()
		srv.Close()
	})
	return srv, client
}

// writeEvents writes data-only events and flushes.
func writeEvents(w http.ResponseWriter, data ...string) {
	for _, d := range data {
		_, _ = fmt.Fprintf(w, "data: %s\n\n", d)
	}
	w.(http.Flusher).Flush()
}

func startEvents(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
}

var testTimeouts = StreamTimeouts{Request: 10 * time.Second, FirstByte: 5 * time.Second, Idle: 5 * time.Second}

// collectUntil returns a handler that records event data and is done at
// the event whose data is last.
func collectUntil(last string, got *[]string) func(Event) (bool, error) {
	return func(ev Event) (bool, error) {
		*got = append(*got, string(ev.Data))
		return string(ev.Data) == last, nil
	}
}

func TestPostSSEDeliversEventsAndReusesTheConnection(t *testing.T) {
	type seen struct {
		contentType, accept, key, body string
	}
	requests := make(chan seen, 2)
	handled := make(chan struct{}, 1)
	srv, client := sseServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		requests <- seen{r.Header.Get("Content-Type"), r.Header.Get("Accept"), r.Header.Get("X-Key"), string(body)}
		startEvents(w)
		writeEvents(w, "one", "two", "done")
		// More of the body arrives only after the client handled the final
		// event: only draining reads it, and only a drained connection is
		// reused.
		select {
		case <-handled:
		case <-r.Context().Done():
		}
		_, _ = io.WriteString(w, ": trailing comment after the final event\n\n")
	})
	var reused []bool
	for range 2 {
		trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = append(reused, i.Reused) }}
		ctx := httptrace.WithClientTrace(t.Context(), trace)
		var got []string
		collect := collectUntil("done", &got)
		err := PostSSE(ctx, client, "prov", SSERequest{
			URL: srv.URL, Body: []byte(`{"q":1}`), Header: http.Header{"X-Key": {"k"}}, Timeouts: testTimeouts,
		}, func(ev Event) (bool, error) {
			done, err := collect(ev)
			if done {
				handled <- struct{}{}
			}
			return done, err
		})
		require.NoError(t, err)
		assert.Equal(t, []string{"one", "two", "done"}, got)
		assert.Equal(t, seen{"application/json", "text/event-stream", "k", `{"q":1}`}, <-requests)
	}
	assert.Equal(t, []bool{false, true}, reused, "the drained connection serves the next request")
}

func TestPostSSEErrors(t *testing.T) {
	handlerErr := sdk.Errorf(sdk.CodeInvalidArgument, "prov: bad tool call")
	tests := []struct {
		name     string
		serve    http.HandlerFunc
		timeouts StreamTimeouts
		handle   func(Event) (bool, error)
		end      func() error
		code     sdk.Code
		is       error
		message  string
	}{
		{
			name: "status error",
			serve: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Retry-After", "2")
				w.WriteHeader(http.StatusTooManyRequests)
				_, _ = io.WriteString(w, `{"error":{"message":"slow down"}}`)
			},
			code:    sdk.CodeResourceExhausted,
			message: "prov: slow down",
		},
		{
			name:     "no response headers",
			serve:    func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() },
			timeouts: StreamTimeouts{Request: 10 * time.Second, FirstByte: 50 * time.Millisecond, Idle: 5 * time.Second},
			code:     sdk.CodeUnavailable,
			is:       ErrFirstByteTimeout,
		},
		{
			name: "headers but no event",
			serve: func(w http.ResponseWriter, r *http.Request) {
				startEvents(w)
				<-r.Context().Done()
			},
			timeouts: StreamTimeouts{Request: 10 * time.Second, FirstByte: 50 * time.Millisecond, Idle: 5 * time.Second},
			code:     sdk.CodeUnavailable,
			is:       ErrFirstByteTimeout,
		},
		{
			name: "stream stalls",
			serve: func(w http.ResponseWriter, r *http.Request) {
				startEvents(w)
				writeEvents(w, "one")
				<-r.Context().Done()
			},
			timeouts: StreamTimeouts{Request: 10 * time.Second, FirstByte: 5 * time.Second, Idle: 50 * time.Millisecond},
			code:     sdk.CodeUnavailable,
			is:       ErrIdleTimeout,
		},
		{
			name: "whole request too long",
			serve: func(w http.ResponseWriter, r *http.Request) {
				startEvents(w)
				writeEvents(w, "one")
				<-r.Context().Done()
			},
			timeouts: StreamTimeouts{Request: 100 * time.Millisecond, FirstByte: 5 * time.Second, Idle: 5 * time.Second},
			code:     sdk.CodeUnavailable,
			is:       ErrRequestTimeout,
		},
		{
			name: "stream ends before the final event",
			serve: func(w http.ResponseWriter, _ *http.Request) {
				startEvents(w)
				writeEvents(w, "one")
			},
			code:    sdk.CodeUnavailable,
			message: "prov: stream ended before completion",
		},
		{
			name: "end without terminator refused",
			serve: func(w http.ResponseWriter, _ *http.Request) {
				startEvents(w)
				writeEvents(w, "one")
			},
			end:     func() error { return io.ErrUnexpectedEOF },
			code:    sdk.CodeUnavailable,
			message: "prov: stream ended before completion",
		},
		{
			name: "handler error unchanged",
			serve: func(w http.ResponseWriter, _ *http.Request) {
				startEvents(w)
				writeEvents(w, "one", "done")
			},
			handle:  func(Event) (bool, error) { return false, handlerErr },
			code:    sdk.CodeInvalidArgument,
			is:      handlerErr,
			message: "prov: bad tool call",
		},
		{
			name:  "provider unreachable",
			serve: nil,
			code:  sdk.CodeUnavailable,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			serve := tt.serve
			if serve == nil {
				serve = func(http.ResponseWriter, *http.Request) {}
			}
			srv, client := sseServer(t, serve)
			url := srv.URL
			if tt.serve == nil {
				srv.Close()
			}
			timeouts := tt.timeouts
			if timeouts == (StreamTimeouts{}) {
				timeouts = testTimeouts
			}
			handle := tt.handle
			if handle == nil {
				var got []string
				handle = collectUntil("done", &got)
			}
			err := PostSSE(t.Context(), client, "prov", SSERequest{URL: url, Timeouts: timeouts, EndWithoutDone: tt.end}, handle)
			var e *sdk.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tt.code, e.Code, "%v", err)
			if tt.is != nil {
				assert.ErrorIs(t, err, tt.is)
				if IsTimeout(tt.is) {
					assert.Contains(t, e.Message, tt.is.Error())
				}
			}
			if tt.message != "" {
				assert.Equal(t, tt.message, e.Message)
			}
			assert.NotErrorIs(t, err, io.EOF, "never a silent end")
		})
	}
}

func TestPostSSEEndWithoutTerminatorAccepted(t *testing.T) {
	srv, client := sseServer(t, func(w http.ResponseWriter, _ *http.Request) {
		startEvents(w)
		writeEvents(w, "one", "two")
	})
	var got []string
	ended := false
	err := PostSSE(t.Context(), client, "prov", SSERequest{
		URL: srv.URL, Timeouts: testTimeouts,
		EndWithoutDone: func() error { ended = true; return nil },
	}, collectUntil("never", &got))
	require.NoError(t, err)
	assert.True(t, ended)
	assert.Equal(t, []string{"one", "two"}, got)
}

func TestPostSSESlowHandlerIsNotAStall(t *testing.T) {
	const idle = 50 * time.Millisecond
	handled := make(chan struct{})
	srv, client := sseServer(t, func(w http.ResponseWriter, r *http.Request) {
		startEvents(w)
		writeEvents(w, "one")
		select { // the next event follows only once the client handled this one
		case <-handled:
		case <-r.Context().Done():
			return
		}
		writeEvents(w, "done")
	})
	var got []string
	err := PostSSE(t.Context(), client, "prov", SSERequest{
		URL: srv.URL, Timeouts: StreamTimeouts{Request: 10 * time.Second, FirstByte: idle, Idle: idle},
	}, func(ev Event) (bool, error) {
		<-time.After(4 * idle) // the consumer takes its time with every event
		got = append(got, string(ev.Data))
		if string(ev.Data) == "one" {
			close(handled)
		}
		return string(ev.Data) == "done", nil
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"one", "done"}, got)
}

func TestPostSSECallerCancels(t *testing.T) {
	srv, client := sseServer(t, func(w http.ResponseWriter, _ *http.Request) {
		startEvents(w)
		writeEvents(w, "one", "done")
	})
	ctx, cancel := context.WithCancel(t.Context())
	err := PostSSE(ctx, client, "prov", SSERequest{URL: srv.URL, Timeouts: testTimeouts}, func(Event) (bool, error) {
		cancel()
		return false, errors.New("emit: consumer gone")
	})
	assert.Equal(t, sdk.CodeCanceled, sdk.CodeOf(err), "%v", err)
}
