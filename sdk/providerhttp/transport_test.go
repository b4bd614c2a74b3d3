package providerhttp

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewTransportOptions(t *testing.T) {
	tr := NewTransport(TransportOptions{ConnectTimeout: 3 * time.Second, ResponseHeaderTimeout: 7 * time.Second})
	assert.Equal(t, 3*time.Second, tr.TLSHandshakeTimeout)
	assert.Equal(t, 7*time.Second, tr.ResponseHeaderTimeout)
	assert.Equal(t, idleConnTimeout, tr.IdleConnTimeout)
	assert.True(t, tr.ForceAttemptHTTP2)
	assert.NotNil(t, tr.Proxy)
	assert.False(t, NewTransport(TransportOptions{HTTP1Only: true}).ForceAttemptHTTP2)
}

func TestNewTransportResponseHeaderTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	tr := NewTransport(TransportOptions{ConnectTimeout: time.Second, ResponseHeaderTimeout: 20 * time.Millisecond})
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if resp != nil {
		_ = resp.Body.Close()
	}
	require.Error(t, err)
	assert.Equal(t, "unavailable", string(ErrorFromTransport(context.Background(), "prov", err).Code), "a silent provider is Unavailable: %v", err)
}
