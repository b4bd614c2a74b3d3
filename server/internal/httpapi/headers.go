package httpapi

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// hstsMaxAge is how long browsers remember to use HTTPS only. One year, the
// value browsers' preload lists expect; no includeSubDomains, which would
// speak for hosts Parley does not serve.
const hstsMaxAge = 365 * 24 * time.Hour

// ContentSecurityPolicy is what the web client (web/) needs and nothing
// more: its scripts, styles, AudioWorklet modules and fetches from its own
// origin; the WebSocket to its own origin ('self' covers ws:/wss: to the
// same host in CSP Level 3); the data: favicon; media from itself (agent
// audio arrives as a MediaStream, which CSP does not restrict, as WebRTC is
// not). No inline script or style, no eval, no plugins, no framing.
func ContentSecurityPolicy() string {
	return strings.Join([]string{
		"default-src 'none'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src 'self' data:",
		"media-src 'self'",
		"connect-src 'self'",
		"worker-src 'self'",
		"manifest-src 'self'",
		"base-uri 'none'",
		"form-action 'self'",
		"frame-ancestors 'none'",
	}, "; ")
}

// SecurityHeaders sets the browser security headers on every response
// (page, API and errors alike): the CSP, nosniff, no referrer, no framing,
// the microphone for this origin only and, when tls is true, HSTS.
func SecurityHeaders(tls bool) func(http.Handler) http.Handler {
	csp := ContentSecurityPolicy()
	hsts := "max-age=" + strconv.FormatInt(int64(hstsMaxAge/time.Second), 10)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Content-Security-Policy", csp)
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "no-referrer")
			h.Set("X-Frame-Options", "DENY")
			h.Set("Permissions-Policy", "microphone=(self), camera=(), geolocation=(), payment=(), usb=()")
			h.Set("Cross-Origin-Opener-Policy", "same-origin")
			if tls {
				h.Set("Strict-Transport-Security", hsts)
			}
			next.ServeHTTP(w, r)
		})
	}
}

// RequireClientCert answers 403 unless the request came over TLS with a
// client certificate that verified against the configured client CAs
// (tls.VerifyClientCertIfGiven has already rejected bad ones during the
// handshake; this rejects their absence). It guards the admin routes.
func RequireClientCert(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			WriteError(w, http.StatusForbidden, CodeClientCert,
				"this route requires a TLS client certificate signed by http.tls.client_ca_file", nil)
			return
		}
		next.ServeHTTP(w, r)
	})
}
