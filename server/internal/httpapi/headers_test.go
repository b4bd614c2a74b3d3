package httpapi

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/tlsconf/tlstest"
)

// TestSecurityHeaders: the page, the API, the voice routes, probes and
// errors all carry the security headers; HSTS only when TLS is on.
func TestSecurityHeaders(t *testing.T) {
	for _, tlsOn := range []bool{false, true} {
		f := newFixture(t, func(o *Options) {
			o.TLS = tlsOn
			o.Web = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "<html>") })
		})
		auth := map[string]string{"Authorization": "Bearer k1"}
		for _, tt := range []struct {
			name, method, path string
			hdr                map[string]string
		}{
			{"page", http.MethodGet, "/", nil},
			{"probe", http.MethodGet, "/healthz", nil},
			{"api", http.MethodPost, "/v1/echo", auth},
			{"voice", http.MethodGet, "/ws/voice", auth},
			{"unauthorized", http.MethodGet, "/ws/voice", nil},
			{"not found", http.MethodGet, "/v2/nothing", nil},
		} {
			t.Run(tt.name, func(t *testing.T) {
				resp, _ := f.do(t, tt.method, tt.path, tt.hdr, "")
				h := resp.Header
				csp := h.Get("Content-Security-Policy")
				for _, d := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "media-src 'self'", "frame-ancestors 'none'"} {
					assert.Contains(t, csp, d)
				}
				assert.NotContains(t, csp, "unsafe-inline")
				assert.NotContains(t, csp, "unsafe-eval")
				assert.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
				assert.Equal(t, "no-referrer", h.Get("Referrer-Policy"))
				assert.Contains(t, h.Get("Permissions-Policy"), "microphone=(self)")
				if tlsOn {
					assert.Equal(t, "max-age=31536000", h.Get("Strict-Transport-Security"))
				} else {
					assert.Empty(t, h.Get("Strict-Transport-Security"), "no HSTS over plain HTTP")
				}
			})
		}
	}
}

// TestAdminRoutesRequireClientCert: with AdminClientCert, /v1 routes
// answer 403 without a verified client certificate and work with one;
// voice routes and the page never ask for one.
func TestAdminRoutesRequireClientCert(t *testing.T) {
	serverCA, adminCA := tlstest.NewCA(t, "server CA"), tlstest.NewCA(t, "admin CA")
	h := newFixture(t, func(o *Options) { o.AdminClientCert = true; o.TLS = true }).srv.Config.Handler
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{serverCA.Server(t).TLS},
		ClientCAs:    adminCA.Pool(),
		ClientAuth:   tls.VerifyClientCertIfGiven,
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	do := func(t *testing.T, certs []tls.Certificate, method, path string) int {
		t.Helper()
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs: serverCA.Pool(), Certificates: certs, MinVersion: tls.VersionTLS12,
		}}}
		defer client.CloseIdleConnections()
		req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, strings.NewReader("x"))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer k1")
		resp, err := client.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusForbidden {
			assert.Contains(t, string(body), CodeClientCert)
		}
		return resp.StatusCode
	}
	admin := []tls.Certificate{adminCA.Client(t, "ops").TLS}
	assert.Equal(t, http.StatusForbidden, do(t, nil, http.MethodPost, "/v1/echo"), "admin route without a client certificate")
	assert.Equal(t, http.StatusOK, do(t, admin, http.MethodPost, "/v1/echo"), "admin route with one")
	assert.Equal(t, http.StatusOK, do(t, nil, http.MethodGet, "/ws/voice"), "voice routes need no client certificate")
	assert.Equal(t, http.StatusOK, do(t, nil, http.MethodGet, "/healthz"))

	// Over plain HTTP there is no certificate at all: refused.
	plain := newFixture(t, func(o *Options) { o.AdminClientCert = true })
	resp, _ := plain.do(t, http.MethodPost, "/v1/echo", map[string]string{"Authorization": "Bearer k1"}, "x")
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
}
