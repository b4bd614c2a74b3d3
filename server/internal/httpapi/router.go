// Package httpapi is Parley's HTTP edge: the chi router, its middleware
// (request id, security headers, access log, panic recovery, real client
// IP, body limits, timeouts, API keys, origin allowlist, per-IP rate limit,
// client certificates on admin routes), the probes
// (/healthz, /readyz, /metrics, /version) and the mounting points for the
// voice transports, the /v1 REST API and the static web client.
package httpapi

import (
	"log/slog"
	"net/http"
	"runtime"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/ratelimit"
)

const (
	pathHealthz = "/healthz"
	pathReadyz  = "/readyz"
	pathMetrics = "/metrics"
	pathVersion = "/version"
)

// VersionInfo is served at /version.
type VersionInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	GoVersion string `json:"go_version"`
}

// Options are the router's dependencies, wired by main.
type Options struct {
	HTTP config.HTTP
	Auth config.Auth
	// Limiter rate-limits the voice and /v1 routes per client IP; nil
	// disables it.
	Limiter  ratelimit.Limiter
	Gatherer prometheus.Gatherer
	// Ready returns why the server is not ready; empty means ready.
	Ready   func() []string
	Version VersionInfo
	Logger  *slog.Logger
	// Voice mounts streaming routes (WebSocket, WebRTC signaling): access
	// control applies, plain-route timeouts and body limits do not.
	Voice func(r chi.Router)
	// API mounts REST routes (full paths, e.g. /v1/plugins): access
	// control, timeouts and body limits apply.
	API func(r chi.Router)
	// Callbacks mounts routes called by third parties that authenticate
	// themselves (a carrier's signed voice webhook, its media streams with
	// a stream token): the rate limit applies; API keys, origin checks,
	// timeouts and body limits do not (the handlers bound their bodies).
	Callbacks func(r chi.Router)
	// Tokens, when not nil, verifies client tokens on the voice routes.
	Tokens TokenVerifier
	// Admin mounts the admin API (/v1/sessions, /v1/admin/…): admin keys
	// (AdminKeys), the client certificate when AdminClientCert, timeouts
	// and body limits apply.
	Admin func(r chi.Router)
	// Mint mounts the token route: only keys (API or admin), never a
	// token, may mint tokens; with no key configured it is refused.
	Mint func(r chi.Router)
	// Web serves the browser client at /.
	Web http.Handler
	// TLS says Parley terminates TLS itself: responses carry HSTS.
	TLS bool
	// AdminClientCert requires a verified TLS client certificate on the API
	// routes (the admin routes, e.g. /v1/plugins): mTLS with
	// http.tls.client_ca_file.
	AdminClientCert bool
}

// New builds the router.
func New(o Options) (http.Handler, error) {
	trusted, err := ParseTrustedProxies(o.HTTP.TrustedProxies)
	if err != nil {
		return nil, err
	}
	if o.Ready == nil {
		o.Ready = func() []string { return nil }
	}
	if o.Version.GoVersion == "" {
		o.Version.GoVersion = runtime.Version()
	}
	r := chi.NewRouter()
	origins := NewOriginPolicy(o.Auth.AllowedOrigins)
	r.Use(RequestID, SecurityHeaders(o.TLS), RealIP(trusted), AccessLog(o.Logger), Recover(o.Logger), Preflight(origins))
	r.NotFound(func(w http.ResponseWriter, _ *http.Request) {
		WriteError(w, http.StatusNotFound, CodeNotFound, "no such route", nil)
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, _ *http.Request) {
		WriteError(w, http.StatusMethodNotAllowed, CodeMethod, "method not allowed", nil)
	})

	access := []func(http.Handler) http.Handler{APIKeys(o.Auth.APIKeys), Origins(origins)}
	voice := []func(http.Handler) http.Handler{Credentials(o.Auth.APIKeys, o.Tokens), Origins(origins)}
	if o.Limiter != nil {
		access = append(access, RateLimit(o.Limiter, o.Logger))
		voice = append(voice, RateLimit(o.Limiter, o.Logger))
	}
	admin := access
	operator := []func(http.Handler) http.Handler{AdminKeys(o.Auth.AdminKeys)}
	if o.AdminClientCert {
		admin = append([]func(http.Handler) http.Handler{RequireClientCert}, access...)
		operator = append([]func(http.Handler) http.Handler{RequireClientCert}, operator...)
	}
	minters := append(append([]string(nil), o.Auth.APIKeys...), o.Auth.AdminKeys...)

	r.Group(func(r chi.Router) {
		r.Use(Timeout(o.HTTP.RequestTimeout), BodyLimit(o.HTTP.MaxBodyBytes))
		r.Get(pathHealthz, func(w http.ResponseWriter, _ *http.Request) {
			WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		})
		r.Get(pathReadyz, func(w http.ResponseWriter, _ *http.Request) {
			if reasons := o.Ready(); len(reasons) > 0 {
				details := make(map[string]string, len(reasons))
				for i, s := range reasons {
					details["reason_"+itoa(int64(i))] = s
				}
				WriteError(w, http.StatusServiceUnavailable, CodeNotReady, "not ready", details)
				return
			}
			WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		})
		r.Get(pathVersion, func(w http.ResponseWriter, _ *http.Request) { WriteJSON(w, http.StatusOK, o.Version) })
		if o.Gatherer != nil {
			r.Method(http.MethodGet, pathMetrics, promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{}))
		}
		if o.API != nil {
			r.Group(func(r chi.Router) {
				r.Use(admin...)
				o.API(r)
			})
		}
		if o.Admin != nil {
			r.Group(func(r chi.Router) {
				r.Use(operator...)
				o.Admin(r)
			})
		}
		if o.Mint != nil {
			r.Group(func(r chi.Router) {
				r.Use(mintGuard(minters))
				if o.Limiter != nil {
					r.Use(RateLimit(o.Limiter, o.Logger))
				}
				o.Mint(r)
			})
		}
		if o.Web != nil {
			r.Handle("/*", o.Web)
		}
	})
	if o.Voice != nil {
		r.Group(func(r chi.Router) {
			r.Use(voice...)
			o.Voice(r)
		})
	}
	if o.Callbacks != nil {
		r.Group(func(r chi.Router) {
			if o.Limiter != nil {
				r.Use(RateLimit(o.Limiter, o.Logger))
			}
			o.Callbacks(r)
		})
	}
	return r, nil
}

// mintGuard admits only requests with one of keys; with none configured
// nobody may mint.
func mintGuard(keys []string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if len(keys) == 0 {
			return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				WriteError(w, http.StatusForbidden, CodeForbidden, "minting tokens needs a key: set auth.api_keys or auth.admin_keys", nil)
			})
		}
		return APIKeys(keys)(next)
	}
}
