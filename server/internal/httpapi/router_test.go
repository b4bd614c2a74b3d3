package httpapi

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/ratelimit"
	"github.com/parleyhq/parley/server/internal/telemetry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type fixture struct {
	srv   *httptest.Server
	ready atomic.Bool
}

func newFixture(t *testing.T, mutate func(*Options)) *fixture {
	t.Helper()
	f := &fixture{}
	cfg := config.Default()
	o := Options{
		HTTP:     cfg.HTTP,
		Auth:     config.Auth{APIKeys: []string{"k1", "k2"}, AllowedOrigins: []string{"https://app.example.com"}},
		Limiter:  ratelimit.NewMemory(config.RateLimit{RequestsPerMinute: 60, Burst: 5}, nil),
		Gatherer: telemetry.NewRegistry(),
		Ready: func() []string {
			if f.ready.Load() {
				return nil
			}
			return []string{"plugin stt-pocketsphinx: starting"}
		},
		Version: VersionInfo{Version: "test"},
		Logger:  slog.New(slog.DiscardHandler),
		Voice: func(r chi.Router) {
			r.Get("/ws/voice", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "voice") })
		},
		API: func(r chi.Router) {
			r.Get("/v1/panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
			r.Post("/v1/echo", func(w http.ResponseWriter, r *http.Request) {
				b, err := io.ReadAll(r.Body)
				if err != nil {
					WriteError(w, http.StatusRequestEntityTooLarge, CodeBodyTooLarge, err.Error(), nil)
					return
				}
				_, _ = w.Write(b)
			})
		},
	}
	if mutate != nil {
		mutate(&o)
	}
	h, err := New(o)
	require.NoError(t, err)
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) do(t *testing.T, method, path string, hdr map[string]string, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, f.srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := f.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

func errorCode(t *testing.T, b []byte) string {
	t.Helper()
	var e ErrorBody
	require.NoError(t, json.Unmarshal(b, &e), "body must be the JSON error shape: %s", b)
	require.NotEmpty(t, e.Error.Message)
	return e.Error.Code
}

func TestAccessControl(t *testing.T) {
	f := newFixture(t, nil)
	tests := []struct {
		name   string
		path   string
		hdr    map[string]string
		status int
		code   string
	}{
		{"missing key", "/ws/voice", nil, http.StatusUnauthorized, CodeUnauthorized},
		{"wrong key", "/ws/voice", map[string]string{"Authorization": "Bearer nope"}, http.StatusUnauthorized, CodeUnauthorized},
		{"bearer key", "/ws/voice", map[string]string{"Authorization": "Bearer k2"}, http.StatusOK, ""},
		{"token query", "/ws/voice?token=k1", nil, http.StatusOK, ""},
		{"subprotocol key", "/ws/voice", map[string]string{"Sec-WebSocket-Protocol": "realtime, openai-insecure-api-key.k1"}, http.StatusOK, ""},
		{"wrong subprotocol key", "/ws/voice", map[string]string{"Sec-WebSocket-Protocol": "realtime, openai-insecure-api-key.k3"}, http.StatusUnauthorized, CodeUnauthorized},
		{"foreign origin", "/ws/voice?token=k1", map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden, CodeForbiddenOrigin},
		{"allowed origin", "/ws/voice?token=k1", map[string]string{"Origin": "https://app.example.com"}, http.StatusOK, ""},
		{"api behind keys too", "/v1/panic", nil, http.StatusUnauthorized, CodeUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := f.do(t, http.MethodGet, tt.path, tt.hdr, "")
			assert.Equal(t, tt.status, resp.StatusCode, "%s", b)
			if tt.code != "" {
				assert.Equal(t, tt.code, errorCode(t, b))
			}
		})
	}
}

func TestSameHostOriginAllowed(t *testing.T) {
	f := newFixture(t, nil)
	resp, _ := f.do(t, http.MethodGet, "/ws/voice?token=k1", map[string]string{"Origin": f.srv.URL}, "")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestCORSPreflight(t *testing.T) {
	f := newFixture(t, nil)
	resp, _ := f.do(t, http.MethodOptions, "/ws/voice?token=k1", map[string]string{
		"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST",
	}, "")
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	assert.Equal(t, "https://app.example.com", resp.Header.Get("Access-Control-Allow-Origin"))
}

func TestRateLimit(t *testing.T) {
	f := newFixture(t, nil)
	for i := range 5 {
		resp, _ := f.do(t, http.MethodGet, "/ws/voice?token=k1", nil, "")
		require.Equal(t, http.StatusOK, resp.StatusCode, "request %d is within the burst", i+1)
	}
	resp, b := f.do(t, http.MethodGet, "/ws/voice?token=k1", nil, "")
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	assert.Equal(t, "1", resp.Header.Get("Retry-After"))
	assert.Equal(t, CodeRateLimited, errorCode(t, b))
}

func TestProbes(t *testing.T) {
	f := newFixture(t, nil)
	resp, b := f.do(t, http.MethodGet, "/healthz", nil, "")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.JSONEq(t, `{"status":"ok"}`, string(b))

	resp, b = f.do(t, http.MethodGet, "/readyz", nil, "")
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, CodeNotReady, errorCode(t, b))
	assert.Contains(t, string(b), "stt-pocketsphinx")

	f.ready.Store(true)
	resp, _ = f.do(t, http.MethodGet, "/readyz", nil, "")
	assert.Equal(t, http.StatusOK, resp.StatusCode, "ready once dependencies are")

	resp, b = f.do(t, http.MethodGet, "/metrics", nil, "")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(b), "go_goroutines")
	assert.Contains(t, string(b), "process_")

	resp, b = f.do(t, http.MethodGet, "/version", nil, "")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(b), `"version":"test"`)

	resp, b = f.do(t, http.MethodGet, "/nope", nil, "")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Equal(t, CodeNotFound, errorCode(t, b))
}

func TestPanicRecovered(t *testing.T) {
	f := newFixture(t, nil)
	resp, b := f.do(t, http.MethodGet, "/v1/panic", map[string]string{"Authorization": "Bearer k1"}, "")
	assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	assert.Equal(t, CodeInternal, errorCode(t, b))
	resp, _ = f.do(t, http.MethodGet, "/healthz", nil, "")
	assert.Equal(t, http.StatusOK, resp.StatusCode, "server keeps serving after a panic")
}

func TestRequestID(t *testing.T) {
	f := newFixture(t, nil)
	resp, _ := f.do(t, http.MethodGet, "/healthz", map[string]string{HeaderRequestID: "abc-123"}, "")
	assert.Equal(t, "abc-123", resp.Header.Get(HeaderRequestID))
	resp, _ = f.do(t, http.MethodGet, "/healthz", nil, "")
	assert.Len(t, resp.Header.Get(HeaderRequestID), 24, "generated when absent")
	resp, _ = f.do(t, http.MethodGet, "/healthz", map[string]string{HeaderRequestID: "bad id with spaces"}, "")
	assert.NotEqual(t, "bad id with spaces", resp.Header.Get(HeaderRequestID))
}

func TestBodyLimit(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.HTTP.MaxBodyBytes = 8 })
	resp, b := f.do(t, http.MethodPost, "/v1/echo", map[string]string{"Authorization": "Bearer k1"}, "0123456789")
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	assert.Equal(t, CodeBodyTooLarge, errorCode(t, b))
	resp, b = f.do(t, http.MethodPost, "/v1/echo", map[string]string{"Authorization": "Bearer k1"}, "01234567")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "01234567", string(b))
}

func TestRealIP(t *testing.T) {
	trusted, err := ParseTrustedProxies([]string{"127.0.0.1"})
	require.NoError(t, err)
	var got string
	h := RealIP(trusted)(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = ClientIP(r) }))
	tests := []struct {
		name, remote, xff, want string
	}{
		{"trusted proxy forwards", "127.0.0.1:5000", "203.0.113.9, 127.0.0.1", "203.0.113.9"},
		{"untrusted peer ignored", "198.51.100.1:5000", "203.0.113.9", "198.51.100.1"},
		{"spoofed left-most ignored", "127.0.0.1:5000", "6.6.6.6, 203.0.113.9", "203.0.113.9"},
		{"garbage header ignored", "127.0.0.1:5000", "not-an-ip", "127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tt.remote
			r.Header.Set("X-Forwarded-For", tt.xff)
			h.ServeHTTP(httptest.NewRecorder(), r)
			assert.Equal(t, tt.want, got)
		})
	}
}
