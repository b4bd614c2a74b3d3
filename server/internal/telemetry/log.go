// Package telemetry builds Parley's logger, metrics registry and memory
// guard. Nothing here is global: main builds them and injects them.
package telemetry

import (
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/parleyhq/parley/server/internal/config"
)

// Log field keys used across Parley.
const (
	KeySessionID = "session_id"
	KeyPlugin    = "plugin"
	KeyRequestID = "request_id"
	KeyError     = "err"
)

// Redacted replaces the value of a log attribute whose key names a secret.
const Redacted = "[redacted]"

// NewLogger returns a slog logger writing to w: JSON, or text when the
// format is text, or auto and w is a terminal. Attributes pass through
// ReplaceAttr: durations become Go duration strings and secret-named keys
// are redacted.
func NewLogger(w io.Writer, cfg config.Log) *slog.Logger {
	opts := &slog.HandlerOptions{Level: Level(cfg.Level), ReplaceAttr: ReplaceAttr}
	format := cfg.Format
	if format == config.FormatAuto {
		format = config.FormatJSON
		if isTerminal(w) {
			format = config.FormatText
		}
	}
	if format == config.FormatText {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// ReplaceAttr is the handlers' slog.HandlerOptions.ReplaceAttr. Durations
// are logged as human strings ("10s", "1.5ms") rather than nanosecond
// integers, in JSON and text alike. Attributes whose key names a secret
// (Authorization, token, api_key, password, secret, credential, in any
// case) are logged as Redacted: a second line of defence, since nothing
// should log them in the first place. Sizes are logged as numbers with the
// unit in the key ("bytes", "heap_bytes", "limit_bytes") so they stay
// summable.
func ReplaceAttr(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	if a.Value.Kind() != slog.KindGroup && secretKey(a.Key) {
		a.Value = slog.StringValue(Redacted)
	}
	return a
}

// secretKey reports whether a log key names a secret.
func secretKey(key string) bool {
	k := strings.ToLower(key)
	switch k {
	case "authorization", "proxy-authorization", "token", "access_token", "refresh_token", "api_key", "apikey",
		"api_keys", "password", "secret", "client_secret", "credential", "x-api-key":
		return true
	}
	return strings.HasSuffix(k, "_api_key") || strings.HasSuffix(k, "_password") || strings.HasSuffix(k, "_secret")
}

// Level maps a configured level to slog's.
func Level(l config.LogLevel) slog.Level {
	switch l {
	case config.LevelDebug:
		return slog.LevelDebug
	case config.LevelWarn:
		return slog.LevelWarn
	case config.LevelError:
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
