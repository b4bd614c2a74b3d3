package main

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Timeout causes. They end a request's context and are reported as
// Unavailable: the provider was too slow, the caller did not give up.
var (
	// errRequestTimeout says the whole generation took longer than request_timeout.
	errRequestTimeout = errors.New("request timeout exceeded")
	// errFirstByteTimeout says no event arrived within first_byte_timeout.
	errFirstByteTimeout = errors.New("first byte timeout exceeded")
	// errIdleTimeout says the stream stalled longer than idle_timeout.
	errIdleTimeout = errors.New("stream idle timeout exceeded")
)

// isTimeout reports whether cause is one of the plugin's own timeouts.
func isTimeout(cause error) bool {
	return errors.Is(cause, errRequestTimeout) || errors.Is(cause, errFirstByteTimeout) || errors.Is(cause, errIdleTimeout)
}

// watchdog cancels a context when it is not re-armed in time.
type watchdog struct {
	cancel context.CancelCauseFunc

	mu    sync.Mutex
	timer *time.Timer
	cause error
}

// newWatchdog returns a child of ctx that is cancelled with cause unless
// the watchdog is re-armed or stopped within d.
func newWatchdog(ctx context.Context, d time.Duration, cause error) (context.Context, *watchdog) {
	ctx, cancel := context.WithCancelCause(ctx)
	w := &watchdog{cancel: cancel, cause: cause}
	w.timer = time.AfterFunc(d, w.fire)
	return ctx, w
}

// arm restarts the countdown with a new duration and cause. Arming a
// watchdog that already fired is harmless: its context stays cancelled
// with the first cause.
func (w *watchdog) arm(d time.Duration, cause error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.timer.Stop()
	w.cause = cause
	w.timer.Reset(d)
}

// pause stops the countdown until the next arm.
func (w *watchdog) pause() {
	w.mu.Lock()
	w.timer.Stop()
	w.mu.Unlock()
}

// fire cancels the context with the current cause.
func (w *watchdog) fire() {
	w.mu.Lock()
	cause := w.cause
	w.mu.Unlock()
	w.cancel(cause)
}

// stop disarms the watchdog and releases its context.
func (w *watchdog) stop() {
	w.mu.Lock()
	w.timer.Stop()
	w.mu.Unlock()
	w.cancel(context.Canceled)
}
