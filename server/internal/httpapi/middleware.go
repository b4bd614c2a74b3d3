package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-chi/chi/v5/middleware"

	"github.com/parleyhq/parley/server/internal/telemetry"
)

// HeaderRequestID carries the request id in both directions.
const HeaderRequestID = "X-Request-Id"

// maxRequestIDLen bounds an incoming request id that is echoed back.
const maxRequestIDLen = 128

type ctxKey int

const requestIDKey ctxKey = iota

// RequestIDFrom returns the request id stored by the RequestID middleware.
func RequestIDFrom(ctx context.Context) string {
	s, _ := ctx.Value(requestIDKey).(string)
	return s
}

// RequestID keeps a sane incoming X-Request-Id or makes one, stores it in
// the context and echoes it in the response.
func RequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(HeaderRequestID)
		if !validRequestID(id) {
			var b [12]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set(HeaderRequestID, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey, id)))
	})
}

func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for _, c := range id {
		if c < '!' || c > '~' {
			return false
		}
	}
	return true
}

// AccessLog logs one line per request at Info (Debug for probes).
func AccessLog(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			next.ServeHTTP(ww, r)
			level := slog.LevelInfo
			if r.URL.Path == pathHealthz || r.URL.Path == pathReadyz || r.URL.Path == pathMetrics {
				level = slog.LevelDebug
			}
			logger.LogAttrs(r.Context(), level, "http request",
				slog.String(telemetry.KeyRequestID, RequestIDFrom(r.Context())),
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", ww.Status()),
				slog.Int("bytes", ww.BytesWritten()),
				slog.Duration("duration", time.Since(start)),
				slog.String("remote", r.RemoteAddr),
			)
		})
	}
}

// Recover turns a panic in a handler into a 500 JSON error, logs the
// stack, and keeps the server serving. http.ErrAbortHandler is re-raised
// as net/http expects.
func Recover(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer recoverPanic(w, r, logger)
			next.ServeHTTP(w, r)
		})
	}
}

// recoverPanic must be deferred directly so that recover sees the panic.
func recoverPanic(w http.ResponseWriter, r *http.Request, logger *slog.Logger) {
	rec := recover()
	if rec == nil {
		return
	}
	if err, ok := rec.(error); ok && errors.Is(err, http.ErrAbortHandler) {
		panic(rec)
	}
	ctx := r.Context()
	logger.ErrorContext(ctx, "panic in handler",
		slog.String(telemetry.KeyRequestID, RequestIDFrom(ctx)),
		slog.String("path", r.URL.Path),
		slog.Any("panic", rec),
		slog.String("stack", string(debug.Stack())))
	if r.Header.Get("Connection") != "Upgrade" {
		WriteError(w, http.StatusInternalServerError, CodeInternal, "internal server error",
			map[string]string{"request_id": RequestIDFrom(ctx)})
	}
}

// RealIP rewrites r.RemoteAddr to the client's IP. X-Forwarded-For (the
// right-most address not in a trusted proxy) and X-Real-IP are believed
// only when the direct peer is a trusted proxy.
func RealIP(trusted []netip.Prefix) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			peer := remoteIP(r.RemoteAddr)
			if peer.IsValid() && isTrusted(peer, trusted) {
				if ip := forwardedIP(r, trusted); ip.IsValid() {
					r.RemoteAddr = net.JoinHostPort(ip.String(), "0")
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

func remoteIP(addr string) netip.Addr {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return ip.Unmap()
}

func isTrusted(ip netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func forwardedIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
		hops := strings.Split(strings.Join(xff, ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			ip, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				return netip.Addr{}
			}
			ip = ip.Unmap()
			if !isTrusted(ip, trusted) {
				return ip
			}
		}
	}
	if ip, err := netip.ParseAddr(strings.TrimSpace(r.Header.Get("X-Real-IP"))); err == nil {
		return ip.Unmap()
	}
	return netip.Addr{}
}

// ClientIP is the client's IP as set by RealIP ("" when unparsable).
func ClientIP(r *http.Request) string {
	ip := remoteIP(r.RemoteAddr)
	if !ip.IsValid() {
		return ""
	}
	return ip.String()
}

// ParseTrustedProxies parses IPs and CIDRs (validated by config).
func ParseTrustedProxies(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return nil, err
		}
		out = append(out, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
	}
	return out, nil
}

// BodyLimit caps request bodies; reading past it fails and handlers answer
// 413 via WriteBodyError.
func BodyLimit(n int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > n {
				WriteError(w, http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "request body too large",
					map[string]string{"limit_bytes": itoa(n)})
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, n)
			next.ServeHTTP(w, r)
		})
	}
}

// Timeout bounds plain routes: the handler's context is cancelled and the
// client gets a 503 JSON error if it has not answered in d.
func Timeout(d time.Duration) func(http.Handler) http.Handler {
	body := `{"error":{"code":"` + CodeTimeout + `","message":"request timed out"}}`
	return func(next http.Handler) http.Handler {
		h := http.TimeoutHandler(next, d, body)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			h.ServeHTTP(w, r)
		})
	}
}
