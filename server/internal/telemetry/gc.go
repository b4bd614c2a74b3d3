package telemetry

import (
	"log/slog"
	"os"
	"runtime/debug"
)

// gcEnv is the Go runtime's own variable for the collector's target.
const gcEnv = "GOGC"

// SetGCPercent sets the garbage collector's target to percent
// (telemetry.gc_percent) unless the GOGC variable is set, which wins, or
// percent is 0 (the runtime's own is left). It reports whether it set it.
func SetGCPercent(percent int, logger *slog.Logger) bool {
	if env, ok := os.LookupEnv(gcEnv); ok {
		logger.Info("garbage collector target from the environment; telemetry.gc_percent left alone", "GOGC", env)
		return false
	}
	if percent == 0 {
		return false
	}
	debug.SetGCPercent(percent)
	logger.Debug("garbage collector target", "gc_percent", percent)
	return true
}
