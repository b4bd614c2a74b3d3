package httpapi

import (
	"crypto/subtle"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/parleyhq/parley/server/internal/auth"
	"github.com/parleyhq/parley/server/internal/ratelimit"
)

// TokenQueryParam carries the API key for browsers that cannot set
// headers on a WebSocket.
const TokenQueryParam = "token"

// TokenVerifier checks short-lived client tokens (auth.Tokens).
type TokenVerifier interface {
	Verify(raw string) (*auth.Claims, error)
}

// SubprotocolKeyPrefix marks the API key offered as a WebSocket
// subprotocol ("openai-insecure-api-key.<key>"): the form the official
// OpenAI SDK's browser client uses for /v1/realtime, as browsers cannot set
// headers on a WebSocket.
const SubprotocolKeyPrefix = "openai-insecure-api-key."

// APIKeys requires one of keys as `Authorization: Bearer <key>`, the
// token query parameter or a SubprotocolKeyPrefix subprotocol. With no
// keys configured it lets everything in.
func APIKeys(keys []string) func(http.Handler) http.Handler { return Credentials(keys, nil) }

// Credentials requires, as `Authorization: Bearer …`, ?token=… or a
// SubprotocolKeyPrefix subprotocol, one of
// keys or — when tokens is not nil — a valid client token, whose claims
// the request's context then carries (auth.ClaimsFrom). With neither keys
// nor tokens it lets everything in. Refusals are 401 with a code:
// unauthorized, token_expired, token_invalid, token_malformed.
func Credentials(keys []string, tokens TokenVerifier) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if len(keys) == 0 && tokens == nil {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got := credential(r)
			if got == "" {
				got = subprotocolKey(r)
			}
			if got == "" {
				w.Header().Set("WWW-Authenticate", `Bearer realm="parley"`)
				WriteError(w, http.StatusUnauthorized, CodeUnauthorized, "missing credential: send Authorization: Bearer <key or token> or ?token=…", nil)
				return
			}
			if matchesAny(got, keys) {
				next.ServeHTTP(w, r)
				return
			}
			if tokens != nil && strings.Count(got, ".") == jwtDots {
				claims, err := tokens.Verify(got)
				if err == nil {
					next.ServeHTTP(w, r.WithContext(auth.WithClaims(r.Context(), claims)))
					return
				}
				code, msg := tokenRefusal(err)
				w.Header().Set("WWW-Authenticate", `Bearer realm="parley", error="invalid_token"`)
				WriteError(w, http.StatusUnauthorized, code, msg, nil)
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="parley", error="invalid_token"`)
			WriteError(w, http.StatusUnauthorized, CodeUnauthorized, "invalid API key or token", nil)
		})
	}
}

// jwtDots is the number of dots in a JWT (header.claims.signature).
const jwtDots = 2

func tokenRefusal(err error) (code, msg string) {
	switch {
	case errors.Is(err, auth.ErrTokenExpired):
		return CodeTokenExpired, "the token has expired: get a new one"
	case errors.Is(err, auth.ErrTokenMalformed):
		return CodeTokenMalformed, "the token is not a well-formed JWT"
	}
	return CodeTokenInvalid, "the token's signature, key id or claims are not valid"
}

// AdminKeys guards the admin API: a missing key is 401, a wrong one 403,
// and with no admin keys configured every request is 403 admin_disabled.
func AdminKeys(keys []string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if len(keys) == 0 {
				WriteError(w, http.StatusForbidden, CodeAdminDisabled, "the admin API is off: set auth.admin_keys", nil)
				return
			}
			got := bearer(r.Header.Get("Authorization"))
			if got == "" {
				w.Header().Set("WWW-Authenticate", `Bearer realm="parley-admin"`)
				WriteError(w, http.StatusUnauthorized, CodeUnauthorized, "missing admin key: send Authorization: Bearer <admin key>", nil)
				return
			}
			if !matchesAny(got, keys) {
				WriteError(w, http.StatusForbidden, CodeForbidden, "not an admin key", nil)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// credential is the Bearer value or the token query parameter.
func credential(r *http.Request) string {
	if got := bearer(r.Header.Get("Authorization")); got != "" {
		return got
	}
	return r.URL.Query().Get(TokenQueryParam)
}

// subprotocolKey is the key of a SubprotocolKeyPrefix subprotocol ("").
func subprotocolKey(r *http.Request) string {
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for p := range strings.SplitSeq(h, ",") {
			if k, ok := strings.CutPrefix(strings.TrimSpace(p), SubprotocolKeyPrefix); ok {
				return k
			}
		}
	}
	return ""
}

func bearer(h string) string {
	const prefix = "bearer "
	if len(h) > len(prefix) && strings.EqualFold(h[:len(prefix)], prefix) {
		return strings.TrimSpace(h[len(prefix):])
	}
	return ""
}

// matchesAny compares in constant time against every key.
func matchesAny(got string, keys []string) bool {
	ok := 0
	for _, k := range keys {
		ok |= subtle.ConstantTimeCompare([]byte(got), []byte(k))
	}
	return ok == 1
}

// OriginPolicy decides which browser origins may use the voice endpoints.
type OriginPolicy struct {
	any     bool
	allowed map[string]bool
}

// NewOriginPolicy builds a policy from configured origins ("*" = any).
// The server's own origin (same host) is always allowed.
func NewOriginPolicy(origins []string) OriginPolicy {
	p := OriginPolicy{allowed: map[string]bool{}}
	for _, o := range origins {
		if o == "*" {
			p.any = true
			continue
		}
		p.allowed[strings.TrimSuffix(strings.ToLower(o), "/")] = true
	}
	return p
}

// Allowed reports whether origin may call a server reached as host.
// Requests without an Origin (non-browser clients) are allowed.
func (p OriginPolicy) Allowed(origin, host string) bool {
	if origin == "" || p.any {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, host) {
		return true
	}
	return p.allowed[strings.ToLower(u.Scheme+"://"+u.Host)]
}

// Origins enforces the policy (403 JSON for a foreign origin) and answers
// CORS preflights for allowed ones.
func Origins(p OriginPolicy) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			origin := r.Header.Get("Origin")
			if !p.Allowed(origin, r.Host) {
				WriteError(w, http.StatusForbidden, CodeForbiddenOrigin, "origin not allowed", map[string]string{"origin": origin})
				return
			}
			if origin != "" {
				h := w.Header()
				h.Set("Access-Control-Allow-Origin", origin)
				h.Add("Vary", "Origin")
				h.Set("Access-Control-Expose-Headers", "Location, X-Request-Id, X-Session-Id, Retry-After")
			}
			next.ServeHTTP(w, r)
		})
	}
}

// Preflight answers CORS preflight requests (before routing and before
// authentication, as browsers send no credentials with them): 204 with the
// allowed methods and headers for an allowed origin, 403 otherwise.
func Preflight(p OriginPolicy) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			origin := r.Header.Get("Origin")
			if r.Method != http.MethodOptions || origin == "" || r.Header.Get("Access-Control-Request-Method") == "" {
				next.ServeHTTP(w, r)
				return
			}
			if !p.Allowed(origin, r.Host) {
				WriteError(w, http.StatusForbidden, CodeForbiddenOrigin, "origin not allowed", map[string]string{"origin": origin})
				return
			}
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
			h.Set("Access-Control-Allow-Methods", "GET, POST, PATCH, DELETE, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match, X-Request-Id")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
		})
	}
}

// RateLimit answers 429 with Retry-After (whole seconds, rounded up) when
// the client IP's bucket is empty. A limiter failure lets the request
// through and is logged: availability over strictness.
func RateLimit(l ratelimit.Limiter, logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ok, wait, err := l.Allow(r.Context(), ClientIP(r))
			if err != nil {
				logger.Warn("rate limiter unavailable; allowing request", slog.Any("err", err))
				ok = true
			}
			if !ok {
				secs := int64(math.Ceil(wait.Seconds()))
				w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
				WriteError(w, http.StatusTooManyRequests, CodeRateLimited, "too many requests from this client",
					map[string]string{"retry_after_seconds": strconv.FormatInt(max(secs, 1), 10)})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
