package webrtc

import (
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// logKeyScope names the pion subsystem in bridged log records.
const logKeyScope = "pion_scope"

// slogFactory bridges pion's leveled loggers into slog: pion's Trace and
// Debug land at Debug, the rest at their own level.
type slogFactory struct{ log *slog.Logger }

var _ logging.LoggerFactory = slogFactory{}

// NewLogger implements logging.LoggerFactory.
func (f slogFactory) NewLogger(scope string) logging.LeveledLogger {
	return slogLogger{log: f.log.With(logKeyScope, scope)}
}

type slogLogger struct{ log *slog.Logger }

func (l slogLogger) Trace(msg string)                  { l.log.Debug(msg) }
func (l slogLogger) Tracef(format string, args ...any) { l.log.Debug(fmt.Sprintf(format, args...)) }
func (l slogLogger) Debug(msg string)                  { l.log.Debug(msg) }
func (l slogLogger) Debugf(format string, args ...any) { l.log.Debug(fmt.Sprintf(format, args...)) }
func (l slogLogger) Info(msg string)                   { l.log.Info(msg) }
func (l slogLogger) Infof(format string, args ...any)  { l.log.Info(fmt.Sprintf(format, args...)) }
func (l slogLogger) Warn(msg string)                   { l.log.Warn(msg) }
func (l slogLogger) Warnf(format string, args ...any)  { l.log.Warn(fmt.Sprintf(format, args...)) }
func (l slogLogger) Error(msg string)                  { l.log.Error(msg) }
func (l slogLogger) Errorf(format string, args ...any) { l.log.Error(fmt.Sprintf(format, args...)) }
