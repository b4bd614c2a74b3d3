package pluginhost

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"log/slog"
	"sort"
	"strings"

	hclog "github.com/hashicorp/go-hclog"
)

// hclogAdapter bridges go-plugin's hclog.Logger into slog: go-plugin's own
// lines and the log lines plugins write to stderr (which go-plugin parses
// and re-logs) reach Parley's slog handler with the plugin's name. Trace
// maps to Debug. SetLevel is ignored: the slog handler decides.
type hclogAdapter struct {
	logger  *slog.Logger
	name    string
	implied []any
	// stopping reports whether Parley itself is stopping the process (nil:
	// never), so that its exit is logged as the routine event it is.
	stopping func() bool
}

// msgProcessExited is go-plugin's log message when a plugin process ends:
// at Error when the process ended with an error (a signal included), at
// Info otherwise.
const msgProcessExited = "plugin process exited"

// Exit statuses of a process that was asked to stop by a signal rather
// than one that failed: a service manager stopping the whole control group
// sends SIGTERM to every process in it.
const (
	exitSIGTERM = "signal: terminated"
	exitSIGINT  = "signal: interrupt"
)

var _ hclog.Logger = (*hclogAdapter)(nil)

// newHCLogAdapter returns an hclog.Logger writing to logger. stopping (may
// be nil) reports whether Parley is stopping the plugin.
func newHCLogAdapter(logger *slog.Logger, name string, stopping func() bool) *hclogAdapter {
	return &hclogAdapter{logger: logger, name: name, stopping: stopping}
}

func slogLevel(level hclog.Level) slog.Level {
	switch level {
	case hclog.Trace, hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

// exitLevel decides how go-plugin's "plugin process exited" is logged. A
// plugin Parley is stopping (shutdown, drain, reload) is routine: Info,
// "plugin stopped". A plugin stopped by SIGTERM/SIGINT from outside (a
// service manager stopping the group) is Info too. Any other exit is a
// crash that the supervisor restarts: Warn ("plugin down, restarting"
// follows, and "plugin restart limit reached" is the Error an operator must
// act on).
func (a *hclogAdapter) exitLevel(level hclog.Level, msg string, args []any) (hclog.Level, string) {
	if msg != msgProcessExited {
		return level, msg
	}
	if a.stopping != nil && a.stopping() {
		return hclog.Info, "plugin stopped"
	}
	if level < hclog.Warn {
		return level, msg
	}
	for i := 0; i+1 < len(args); i += 2 {
		if k, _ := args[i].(string); k == "error" {
			if v, _ := args[i+1].(string); v == exitSIGTERM || v == exitSIGINT {
				return hclog.Info, "plugin stopped by signal"
			}
		}
	}
	return hclog.Warn, msg
}

// pluginRecord is a log line a plugin wrote to stderr with a slog JSON
// handler: go-plugin understands only hclog's JSON ("@level",
// "@message") and passes such lines verbatim at Debug.
type pluginRecord struct {
	level hclog.Level
	msg   string
	args  []any
}

// parsePluginRecord recognises a slog JSON line ({"time","level","msg",…})
// and returns its level, message and remaining fields (time dropped: the
// host's handler stamps its own).
func parsePluginRecord(line string) (pluginRecord, bool) {
	if !strings.HasPrefix(line, "{") {
		return pluginRecord{}, false
	}
	var raw map[string]any
	if json.Unmarshal([]byte(line), &raw) != nil {
		return pluginRecord{}, false
	}
	lvl, okL := raw[slog.LevelKey].(string)
	msg, okM := raw[slog.MessageKey].(string)
	if !okL || !okM {
		return pluginRecord{}, false
	}
	var level slog.Level
	if level.UnmarshalText([]byte(lvl)) != nil {
		return pluginRecord{}, false
	}
	delete(raw, slog.LevelKey)
	delete(raw, slog.MessageKey)
	delete(raw, slog.TimeKey)
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	args := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		args = append(args, k, raw[k])
	}
	return pluginRecord{level: hclogLevel(level), msg: msg, args: args}, true
}

// hclogLevel maps a slog level to hclog's.
func hclogLevel(l slog.Level) hclog.Level {
	switch {
	case l >= slog.LevelError:
		return hclog.Error
	case l >= slog.LevelWarn:
		return hclog.Warn
	case l >= slog.LevelInfo:
		return hclog.Info
	default:
		return hclog.Debug
	}
}

// Log implements hclog.Logger.
func (a *hclogAdapter) Log(level hclog.Level, msg string, args ...any) {
	if level == hclog.Off {
		return
	}
	if level == hclog.Debug && len(args) == 0 {
		if rec, ok := parsePluginRecord(msg); ok {
			level, msg, args = rec.level, rec.msg, rec.args
		}
	}
	level, msg = a.exitLevel(level, msg, args)
	lvl := slogLevel(level)
	ctx := context.Background()
	if !a.logger.Enabled(ctx, lvl) {
		return
	}
	all := make([]any, 0, len(a.implied)+len(args)+2)
	if a.name != "" {
		all = append(all, "logger", a.name)
	}
	all = append(all, a.implied...)
	all = append(all, args...)
	a.logger.Log(ctx, lvl, msg, all...)
}

// Trace implements hclog.Logger.
func (a *hclogAdapter) Trace(msg string, args ...any) { a.Log(hclog.Trace, msg, args...) }

// Debug implements hclog.Logger.
func (a *hclogAdapter) Debug(msg string, args ...any) { a.Log(hclog.Debug, msg, args...) }

// Info implements hclog.Logger.
func (a *hclogAdapter) Info(msg string, args ...any) { a.Log(hclog.Info, msg, args...) }

// Warn implements hclog.Logger.
func (a *hclogAdapter) Warn(msg string, args ...any) { a.Log(hclog.Warn, msg, args...) }

// Error implements hclog.Logger.
func (a *hclogAdapter) Error(msg string, args ...any) { a.Log(hclog.Error, msg, args...) }

func (a *hclogAdapter) enabled(level slog.Level) bool {
	return a.logger.Enabled(context.Background(), level)
}

// IsTrace implements hclog.Logger.
func (a *hclogAdapter) IsTrace() bool { return a.enabled(slog.LevelDebug) }

// IsDebug implements hclog.Logger.
func (a *hclogAdapter) IsDebug() bool { return a.enabled(slog.LevelDebug) }

// IsInfo implements hclog.Logger.
func (a *hclogAdapter) IsInfo() bool { return a.enabled(slog.LevelInfo) }

// IsWarn implements hclog.Logger.
func (a *hclogAdapter) IsWarn() bool { return a.enabled(slog.LevelWarn) }

// IsError implements hclog.Logger.
func (a *hclogAdapter) IsError() bool { return a.enabled(slog.LevelError) }

// ImpliedArgs implements hclog.Logger.
func (a *hclogAdapter) ImpliedArgs() []any { return append([]any(nil), a.implied...) }

// With implements hclog.Logger.
func (a *hclogAdapter) With(args ...any) hclog.Logger {
	c := *a
	c.implied = append(append([]any(nil), a.implied...), args...)
	return &c
}

// Name implements hclog.Logger.
func (a *hclogAdapter) Name() string { return a.name }

// Named implements hclog.Logger.
func (a *hclogAdapter) Named(name string) hclog.Logger {
	c := *a
	if c.name != "" {
		c.name += "." + name
	} else {
		c.name = name
	}
	return &c
}

// ResetNamed implements hclog.Logger.
func (a *hclogAdapter) ResetNamed(name string) hclog.Logger {
	c := *a
	c.name = name
	return &c
}

// SetLevel implements hclog.Logger; the slog handler owns the level.
func (a *hclogAdapter) SetLevel(hclog.Level) {}

// GetLevel implements hclog.Logger.
func (a *hclogAdapter) GetLevel() hclog.Level {
	switch {
	case a.IsDebug():
		return hclog.Debug
	case a.IsInfo():
		return hclog.Info
	case a.IsWarn():
		return hclog.Warn
	default:
		return hclog.Error
	}
}

// StandardLogger implements hclog.Logger.
func (a *hclogAdapter) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(a.StandardWriter(opts), "", 0)
}

// StandardWriter implements hclog.Logger: each line written is logged at
// the options' ForceLevel (Info if unset).
func (a *hclogAdapter) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	level := hclog.Info
	if opts != nil && opts.ForceLevel != hclog.NoLevel {
		level = opts.ForceLevel
	}
	return &lineWriter{a: a, level: level}
}

// lineWriter logs each written chunk, trimmed, as one line.
type lineWriter struct {
	a     *hclogAdapter
	level hclog.Level
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.a.Log(w.level, string(bytes.TrimSpace(p)))
	return len(p), nil
}
