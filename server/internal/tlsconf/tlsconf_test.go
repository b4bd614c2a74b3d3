package tlsconf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/tlsconf/tlstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Bounds on waiting; safety nets, not timing assertions.
const (
	waitLimit = 5 * time.Second
	pollEvery = 5 * time.Millisecond
)

// tlsServer serves h over TLS with tc on a loopback port until the test
// ends.
func tlsServer(t *testing.T, tc *tls.Config, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: waitLimit, ErrorLog: slog.NewLogLogger(slog.DiscardHandler, slog.LevelWarn)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(tls.NewListener(ln, tc))
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return ln.Addr().String()
}

// echo is a WebSocket echo endpoint.
func echo() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer func() { _ = c.CloseNow() }()
		for {
			typ, b, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, b); err != nil {
				return
			}
		}
	})
}

// servedSerial handshakes with addr and returns the certificate's serial.
func servedSerial(t *testing.T, addr string, roots *x509.CertPool) string {
	t.Helper()
	d := tls.Dialer{Config: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}
	conn, err := d.DialContext(t.Context(), "tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	tc, ok := conn.(*tls.Conn)
	require.True(t, ok)
	return tc.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

func roundTrip(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	defer cancel()
	require.NoError(t, c.Write(ctx, websocket.MessageText, []byte(msg)))
	_, got, err := c.Read(ctx)
	require.NoError(t, err)
	assert.Equal(t, msg, string(got))
}

// TestRotationKeepsLiveWebSocket: after SIGHUP (a value on the reload
// channel) new connections get the new certificate while a WebSocket opened
// before keeps working.
func TestRotationKeepsLiveWebSocket(t *testing.T) {
	ca := tlstest.NewCA(t, "parley test CA")
	dir := t.TempDir()
	first, second := ca.Server(t), ca.Server(t)
	certFile, keyFile := first.Write(t, dir)
	cfg := config.TLS{CertFile: certFile, KeyFile: keyFile}
	r, err := NewReloader(cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	tc, err := ServerConfig(cfg, r)
	require.NoError(t, err)
	addr := tlsServer(t, tc, echo())

	ctx, cancel := context.WithCancel(t.Context())
	hup := make(chan os.Signal, 1)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, hup) }()
	defer func() {
		cancel()
		require.NoError(t, <-done)
	}()

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}}}
	defer client.CloseIdleConnections()
	c, _, err := websocket.Dial(t.Context(), "wss://"+addr+"/", &websocket.DialOptions{HTTPClient: client})
	require.NoError(t, err)
	defer func() { _ = c.CloseNow() }()
	roundTrip(t, c, "before")
	assert.Equal(t, first.Cert.SerialNumber.String(), servedSerial(t, addr, ca.Pool()))

	second.Write(t, dir)
	hup <- syscall.SIGHUP
	want := second.Cert.SerialNumber.String()
	require.Eventually(t, func() bool { return servedSerial(t, addr, ca.Pool()) == want },
		waitLimit, pollEvery, "new connections get the rotated certificate")
	roundTrip(t, c, "after rotation")
	require.NoError(t, c.Close(websocket.StatusNormalClosure, "bye"))
}

// TestReloadOnFileChange: with a reload interval, replacing the files is
// enough.
func TestReloadOnFileChange(t *testing.T) {
	ca := tlstest.NewCA(t, "parley test CA")
	dir := t.TempDir()
	first, second := ca.Server(t), ca.Server(t)
	certFile, keyFile := first.Write(t, dir)
	r, err := NewReloader(config.TLS{CertFile: certFile, KeyFile: keyFile, ReloadInterval: time.Millisecond}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, nil) }()
	defer func() {
		cancel()
		require.NoError(t, <-done)
	}()
	require.Equal(t, first.Cert.SerialNumber, r.Current().SerialNumber)
	// A changed size or mtime is a change. Rewrite until it is seen: a
	// coarse filesystem clock can give a same-size rewrite the old mtime.
	require.Eventually(t, func() bool {
		second.Write(t, dir)
		return r.Current().SerialNumber.Cmp(second.Cert.SerialNumber) == 0
	}, waitLimit, pollEvery)
}

func TestBadReloadKeepsServingOld(t *testing.T) {
	ca := tlstest.NewCA(t, "parley test CA")
	dir := t.TempDir()
	first := ca.Server(t)
	certFile, keyFile := first.Write(t, dir)
	r, err := NewReloader(config.TLS{CertFile: certFile, KeyFile: keyFile}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	other := ca.Server(t)
	require.NoError(t, os.WriteFile(keyFile, other.KeyPEM, 0o600), "a key that does not match the certificate")
	err = r.Reload()
	require.ErrorIs(t, err, ErrCertificate)
	assert.Contains(t, err.Error(), "http.tls.key_file")
	assert.Equal(t, first.Cert.SerialNumber, r.Current().SerialNumber)
}

func TestNewReloaderNamesFiles(t *testing.T) {
	_, err := NewReloader(config.TLS{CertFile: "/nonexistent/cert.pem", KeyFile: "/nonexistent/key.pem"}, slog.New(slog.DiscardHandler))
	require.ErrorIs(t, err, ErrCertificate)
	assert.Contains(t, err.Error(), "/nonexistent/cert.pem")
}

// TestTLSFloorAndClientCerts: TLS 1.1 is refused; with a client CA, a
// connection without a client certificate is allowed (browsers), one with a
// certificate from another CA is refused in the handshake, and a good one
// arrives verified.
func TestTLSFloorAndClientCerts(t *testing.T) {
	ca, adminCA, rogueCA := tlstest.NewCA(t, "server CA"), tlstest.NewCA(t, "admin CA"), tlstest.NewCA(t, "rogue CA")
	dir := t.TempDir()
	certFile, keyFile := ca.Server(t).Write(t, dir)
	cfg := config.TLS{CertFile: certFile, KeyFile: keyFile, ClientCAFile: adminCA.WriteCA(t, dir, "admin-ca.pem")}
	r, err := NewReloader(cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	tc, err := ServerConfig(cfg, r)
	require.NoError(t, err)
	verified := make(chan int, 1)
	addr := tlsServer(t, tc, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		verified <- len(r.TLS.VerifiedChains)
	}))

	get := func(t *testing.T, cc *tls.Config) error {
		t.Helper()
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: cc}}
		defer client.CloseIdleConnections()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://"+addr+"/", nil)
		require.NoError(t, err)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		return resp.Body.Close()
	}
	t.Run("TLS 1.1 refused", func(t *testing.T) {
		err := get(t, &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}) //nolint:gosec // the point of the test
		require.Error(t, err)
	})
	t.Run("no client certificate", func(t *testing.T) {
		require.NoError(t, get(t, &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}))
		assert.Equal(t, 0, <-verified)
	})
	t.Run("client certificate from the admin CA", func(t *testing.T) {
		cc := &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{adminCA.Client(t, "ops").TLS}}
		require.NoError(t, get(t, cc))
		assert.Equal(t, 1, <-verified)
	})
	t.Run("client certificate from another CA", func(t *testing.T) {
		rogue := rogueCA.Client(t, "mallory").TLS
		// GetClientCertificate sends it even though the server asked for
		// the admin CA (Go's client would otherwise send nothing).
		cc := &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12,
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &rogue, nil }}
		err := get(t, cc)
		require.Error(t, err)
		var certErr *tls.CertificateVerificationError
		assert.False(t, errors.As(err, &certErr), "the server, not the client, refused: %v", err)
	})
}

func TestServerConfigBadClientCA(t *testing.T) {
	ca := tlstest.NewCA(t, "ca")
	dir := t.TempDir()
	certFile, keyFile := ca.Server(t).Write(t, dir)
	notPEM := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(notPEM, []byte("not pem"), 0o600))
	cfg := config.TLS{CertFile: certFile, KeyFile: keyFile, ClientCAFile: notPEM}
	r, err := NewReloader(cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	_, err = ServerConfig(cfg, r)
	require.ErrorIs(t, err, ErrClientCA)
	assert.Contains(t, err.Error(), notPEM)
}
