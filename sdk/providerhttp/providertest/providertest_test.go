package providertest_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/sdk/providerhttp"
	"github.com/parleyhq/parley/sdk/providerhttp/providertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func post(t *testing.T, client *http.Client, url, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("X-Test", "yes")
	resp, err := client.Do(req)
	require.NoError(t, err)
	return resp
}

func newClient(t *testing.T) *http.Client {
	t.Helper()
	client := &http.Client{Transport: providerhttp.NewTransport(providerhttp.TransportOptions{})}
	t.Cleanup(client.CloseIdleConnections)
	return client
}

func TestServerRecordsAndStreams(t *testing.T) {
	srv := providertest.NewServer(t, providertest.SSEHandler("data: one\n\n", "event: x\ndata: two\n\n"))
	client := newClient(t)
	for range 2 {
		resp := post(t, client, srv.URL+"/v1/messages", `{"a":1}`)
		sse := providerhttp.NewSSEReader(resp.Body)
		var got []string
		for {
			ev, err := sse.Next()
			if err != nil {
				require.ErrorIs(t, err, io.EOF)
				break
			}
			got = append(got, ev.Event+":"+string(ev.Data))
		}
		_ = resp.Body.Close()
		assert.Equal(t, []string{":one", "x:two"}, got)
		assert.Equal(t, "text/event-stream; charset=utf-8", resp.Header.Get("Content-Type"))
		r := srv.LastRequest(t)
		assert.Equal(t, http.MethodPost, r.Method)
		assert.Equal(t, "/v1/messages", r.Path)
		assert.Equal(t, "yes", r.Header.Get("X-Test"))
		assert.JSONEq(t, `{"a":1}`, string(r.Body))
	}
	assert.Equal(t, 1, srv.Conns(), "keep-alive: one connection")
}

func TestServerClosingConns(t *testing.T) {
	srv := providertest.NewServerClosingConns(t, providertest.SSEHandler("data: one\n\n"))
	srv.DiscardRequests()
	client := newClient(t)
	for range 3 {
		resp := post(t, client, srv.URL, "")
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	assert.Equal(t, 3, srv.Conns())
}

func TestDiscardRequestsLetsManyThrough(t *testing.T) {
	srv := providertest.NewServer(t, providertest.SSEHandler())
	srv.DiscardRequests()
	client := newClient(t)
	for range 40 { // more than the request buffer
		resp := post(t, client, srv.URL, "")
		_ = resp.Body.Close()
	}
}

func TestErrorHandler(t *testing.T) {
	srv := providertest.NewServer(t, providertest.ErrorHandler(http.StatusTooManyRequests,
		http.Header{"Retry-After": {"3"}}, `{"error":{"message":"slow down"}}`))
	resp := post(t, newClient(t), srv.URL, "")
	e := providerhttp.ErrorFromResponse("prov", resp)
	assert.Equal(t, sdk.CodeResourceExhausted, e.Code)
	assert.Equal(t, "prov: slow down", e.Message)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
}

func TestHijackClose(t *testing.T) {
	srv := providertest.NewServer(t, func(w http.ResponseWriter, _ *http.Request) {
		providertest.StartSSE(w)
		providertest.WriteEvents(w, "data: one\n\n")
		providertest.HijackClose(t, w)
	})
	resp := post(t, newClient(t), srv.URL, "")
	defer func() { _ = resp.Body.Close() }()
	_, err := io.ReadAll(resp.Body)
	require.Error(t, err)
	assert.Equal(t, sdk.CodeUnavailable, providerhttp.ErrorFromTransport(context.Background(), "prov", err).Code)
}

func TestReleasedUnblocksSlowHandlers(t *testing.T) {
	var srv *providertest.Server
	t.Run("slow provider", func(t *testing.T) {
		srv = providertest.NewServer(t, func(http.ResponseWriter, *http.Request) { <-srv.Released })
		ctx, cancel := context.WithCancel(context.Background())
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		require.NoError(t, err)
		done := make(chan error, 1)
		client := newClient(t)
		go func() {
			resp, err := client.Do(req)
			if err == nil {
				_ = resp.Body.Close()
			}
			done <- err
		}()
		<-srv.Requests // the handler is now blocked
		cancel()
		require.Error(t, <-done)
		// Ending the test closes the server, which waits for the handler:
		// it returns only because Released is closed first.
	})
	select {
	case <-srv.Released:
	default:
		t.Fatal("Released must be closed when the test ends")
	}
}

func TestSSEFixture(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stream.sse")
	require.NoError(t, os.WriteFile(path, []byte("event: a\ndata: 1\n\n\n\ndata: 2\n\n"), 0o600))
	assert.Equal(t, []string{"event: a\ndata: 1\n\n", "data: 2\n\n"}, providertest.SSEFixture(t, path))
}

// sliceStream yields its values, then err.
type sliceStream struct {
	values []int
	err    error
}

func (s *sliceStream) Recv() (int, error) {
	if len(s.values) == 0 {
		return 0, s.err
	}
	v := s.values[0]
	s.values = s.values[1:]
	return v, nil
}

func TestCollectAndRecvWithin(t *testing.T) {
	s := &sliceStream{values: []int{1, 2, 3}, err: io.EOF}
	v, err := providertest.RecvWithin(t, s)
	require.NoError(t, err)
	assert.Equal(t, 1, v)
	got, err := providertest.Collect(t, s)
	assert.ErrorIs(t, err, io.EOF)
	assert.Equal(t, []int{2, 3}, got)
	_, err = providertest.RecvWithin(t, s)
	assert.ErrorIs(t, err, io.EOF)

	stream := sdk.NewLLMStream(t.Context(), func(_ context.Context, emit func(sdk.GenerateEvent) error) error {
		return emit(sdk.GenerateEvent{TextDelta: "hi"})
	})
	evs, err := providertest.Collect(t, stream)
	assert.ErrorIs(t, err, io.EOF)
	assert.Equal(t, []sdk.GenerateEvent{{TextDelta: "hi"}}, evs)
}
