// Package pluginlog is the logger a plugin writes to stderr: slog JSON,
// which the Parley host re-logs at the record's own level with the
// plugin's name, and durations as Go duration strings ("850ms", "10s")
// rather than nanosecond integers, as the host logs them.
package pluginlog

import (
	"io"
	"log/slog"
)

// New returns a JSON logger writing to w (os.Stderr in a plugin) at level
// and above.
func New(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: ReplaceAttr}))
}

// ReplaceAttr writes durations as Go duration strings; other attributes
// are left alone. Use it in a handler of your own.
func ReplaceAttr(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}
