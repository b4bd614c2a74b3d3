package providerhttp

import (
	"net"
	"net/http"
	"time"
)

// idleConnTimeout closes pooled provider connections nobody used for a
// while (http.DefaultTransport's value).
const idleConnTimeout = 90 * time.Second

// TransportOptions are the timeouts and protocol choice of a provider
// transport.
type TransportOptions struct {
	// ConnectTimeout bounds the TCP dial and, separately, the TLS
	// handshake. Zero means no limit.
	ConnectTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for response headers after the
	// request was written. Zero means no limit (streams bound it
	// themselves, for instance with a Watchdog).
	ResponseHeaderTimeout time.Duration
	// HTTP1Only keeps the transport on HTTP/1.1, which WebSocket
	// handshakes need; otherwise HTTP/2 is negotiated when offered.
	HTTP1Only bool
}

// NewTransport returns an http.Transport for one plugin instance's calls
// to its provider: the environment's proxy settings, pooled connections
// closed after 90 s unused, and the timeouts of o. Close its idle
// connections when the instance is reconfigured.
func NewTransport(o TransportOptions) *http.Transport {
	dialer := &net.Dialer{Timeout: o.ConnectTimeout}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		IdleConnTimeout:       idleConnTimeout,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   o.ConnectTimeout,
		ResponseHeaderTimeout: o.ResponseHeaderTimeout,
		ForceAttemptHTTP2:     !o.HTTP1Only,
	}
}
