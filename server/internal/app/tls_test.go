package app

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/httpapi"
	"github.com/parleyhq/parley/server/internal/tlsconf/tlstest"
)

// Bounds on waiting; safety nets, not timing assertions.
const (
	waitLimit = 10 * time.Second
	pollEvery = 10 * time.Millisecond
)

// lockedBuffer collects log output from the server's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runApp runs an App on a loopback listener until the test ends.
func runApp(t *testing.T, cfg *config.Config, logs io.Writer, opts ...Option) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	a := New(cfg, httpapi.VersionInfo{Version: "t"}, slog.New(slog.NewJSONHandler(logs, nil)), opts...)
	go func() { done <- a.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return ln.Addr().String()
}

// TestTLSServesPageVoiceAndSignaling: with http.tls set, the page, the
// /ws/voice WebSocket and WebRTC signaling are served over TLS (a throwaway
// CA in the test) with HSTS; the admin route needs a client certificate
// from http.tls.client_ca_file; SIGHUP after the files were replaced gives
// new connections the new certificate while a live WebSocket keeps going.
func TestTLSServesPageVoiceAndSignaling(t *testing.T) {
	ca, adminCA := tlstest.NewCA(t, "parley test CA"), tlstest.NewCA(t, "parley admin CA")
	dir := t.TempDir()
	first, second := ca.Server(t), ca.Server(t)
	certFile, keyFile := first.Write(t, dir)
	cfg := config.Default()
	cfg.HTTP.TLS = config.TLS{CertFile: certFile, KeyFile: keyFile, ClientCAFile: adminCA.WriteCA(t, dir, "admin-ca.pem")}
	require.NoError(t, cfg.Validate())
	hup := make(chan os.Signal, 1)
	var logs lockedBuffer
	addr := runApp(t, &cfg, &logs, WithReloadSignal(hup))

	newClient := func(certs ...tls.Certificate) *http.Client {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs: ca.Pool(), Certificates: certs, MinVersion: tls.VersionTLS12,
		}}}
		t.Cleanup(c.CloseIdleConnections)
		return c
	}
	client := newClient()
	do := func(c *http.Client, method, path, ctype, body string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, "https://"+addr+path, strings.NewReader(body))
		require.NoError(t, err)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := c.Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		return resp, string(b)
	}

	resp, body := do(client, http.MethodGet, "/", "", "")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, "<html", "the page over TLS")
	assert.Equal(t, "max-age=31536000", resp.Header.Get("Strict-Transport-Security"))
	assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
	require.NotNil(t, resp.TLS)
	assert.GreaterOrEqual(t, resp.TLS.Version, uint16(tls.VersionTLS12))

	resp, body = do(client, http.MethodPost, "/v1/webrtc/offer", "application/sdp", "v=garbage")
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "WebRTC signaling over TLS: %s", body)

	resp, _ = do(client, http.MethodGet, PathPlugins, "", "")
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "admin route without a client certificate")
	resp, body = do(newClient(adminCA.Client(t, "ops").TLS), http.MethodGet, PathPlugins, "", "")
	assert.Equal(t, http.StatusOK, resp.StatusCode, "admin route with a client certificate: %s", body)

	ws, _, err := websocket.Dial(t.Context(), "wss://"+addr+PathVoiceWS, &websocket.DialOptions{
		HTTPClient: client, Subprotocols: []string{"parley.v1"},
	})
	require.NoError(t, err)
	defer func() { _ = ws.CloseNow() }()
	readEvent := func() string {
		ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
		defer cancel()
		_, b, err := ws.Read(ctx)
		require.NoError(t, err)
		var e struct {
			Type string `json:"type"`
		}
		require.NoError(t, json.Unmarshal(b, &e), "%s", b)
		return e.Type
	}
	assert.Equal(t, "connection_established", readEvent())

	second.Write(t, dir)
	hup <- syscall.SIGHUP
	served := func() string {
		d := tls.Dialer{Config: &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}}
		conn, err := d.DialContext(t.Context(), "tcp", addr)
		require.NoError(t, err)
		defer conn.Close()
		tc, ok := conn.(*tls.Conn)
		require.True(t, ok)
		return tc.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	require.Eventually(t, func() bool { return served() == second.Cert.SerialNumber.String() },
		waitLimit, pollEvery, "rotated certificate served after SIGHUP; log:\n%s", logs.String())

	ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	defer cancel()
	require.NoError(t, ws.Write(ctx, websocket.MessageText, []byte(`{"type":"session.update","input_sample_rate":16000}`)),
		"the WebSocket opened before the rotation still works")
	assert.Equal(t, "session.updated", readEvent())
	require.NoError(t, ws.Close(websocket.StatusNormalClosure, "bye"))
	assert.Contains(t, logs.String(), "tls certificate reloaded")
}

// TestAnonymousOnNetworkWarnsOnce: with http.addr beyond loopback, no API
// keys and auth.allow_anonymous, the server starts and warns once. (The
// test listens on loopback; the warning follows the configured address.)
func TestAnonymousOnNetworkWarnsOnce(t *testing.T) {
	cfg := config.Default()
	cfg.HTTP.Addr = "0.0.0.0:8080"
	cfg.Auth.AllowAnonymous = true
	require.NoError(t, cfg.Validate())
	var logs lockedBuffer
	addr := runApp(t, &cfg, &logs)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/healthz", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "serving without client authentication") },
		waitLimit, pollEvery)
	assert.Equal(t, 1, strings.Count(logs.String(), "serving without client authentication"))
	assert.Contains(t, logs.String(), `"level":"WARN"`)
	assert.Contains(t, logs.String(), "auth.api_keys")
}

func TestLoopbackDoesNotWarn(t *testing.T) {
	cfg := config.Default()
	var logs lockedBuffer
	addr := runApp(t, &cfg, &logs)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/healthz", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.NotContains(t, logs.String(), "serving without client authentication")
}
