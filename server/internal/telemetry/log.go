// Package telemetry builds Parley's logger, metrics registry and memory
// guard. Nothing here is global: main builds them and injects them.
package telemetry

import (
	"io"
	"log/slog"
	"os"

	"github.com/parleyhq/parley/server/internal/config"
)

// Log field keys used across Parley.
const (
	KeySessionID = "session_id"
	KeyPlugin    = "plugin"
	KeyRequestID = "request_id"
	KeyError     = "err"
)

// NewLogger returns a slog logger writing to w: JSON, or text when the
// format is text, or auto and w is a terminal.
func NewLogger(w io.Writer, cfg config.Log) *slog.Logger {
	opts := &slog.HandlerOptions{Level: Level(cfg.Level)}
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
