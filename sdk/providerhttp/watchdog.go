package providerhttp

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/parleyhq/parley/sdk"
)

// Timeout causes. A plugin cancels a request's context with one of them
// (or an error wrapping one, to say more) when the provider is too slow;
// ErrorFromRequest then reports Unavailable instead of a cancellation,
// because the caller did not give up.
var (
	// ErrRequestTimeout says the whole request took longer than allowed.
	ErrRequestTimeout = errors.New("request timeout exceeded")
	// ErrFirstByteTimeout says the provider sent nothing in time after the
	// request was made.
	ErrFirstByteTimeout = errors.New("first byte timeout exceeded")
	// ErrIdleTimeout says a response stream stalled longer than allowed.
	ErrIdleTimeout = errors.New("stream idle timeout exceeded")
)

// IsTimeout reports whether cause is, or wraps, one of the timeout causes.
func IsTimeout(cause error) bool {
	return errors.Is(cause, ErrRequestTimeout) || errors.Is(cause, ErrFirstByteTimeout) || errors.Is(cause, ErrIdleTimeout)
}

// ErrorFromRequest maps a failed request or stream read, where reqCtx is
// the request's context derived from the caller's ctx. When reqCtx ended
// with a timeout cause (see IsTimeout) while the caller still waits, the
// result is Unavailable with the cause's text as message and both the
// cause and err in its chain; everything else is ErrorFromTransport.
func ErrorFromRequest(ctx, reqCtx context.Context, provider string, err error) *sdk.Error {
	if ctx.Err() == nil {
		if cause := context.Cause(reqCtx); IsTimeout(cause) {
			return Unavailable(provider, cause.Error(), fmt.Errorf("%w: %w", cause, hideEOF(err)))
		}
	}
	return ErrorFromTransport(ctx, provider, err)
}

// Watchdog cancels a context unless it is re-armed in time: a first-byte
// or idle timeout for a streamed response. It is safe for concurrent use.
type Watchdog struct {
	cancel context.CancelCauseFunc

	mu    sync.Mutex
	timer *time.Timer
	d     time.Duration
	cause error
}

// NewWatchdog returns a child of ctx that is cancelled with cause unless
// the watchdog is re-armed, paused or stopped within d. Call Stop when the
// request ends.
func NewWatchdog(ctx context.Context, d time.Duration, cause error) (context.Context, *Watchdog) {
	ctx, cancel := context.WithCancelCause(ctx)
	w := &Watchdog{cancel: cancel, d: d, cause: cause}
	w.timer = time.AfterFunc(d, w.fire)
	return ctx, w
}

// Arm restarts the countdown with a new duration and cause. Arming a
// watchdog that already fired is harmless: its context stays cancelled
// with the first cause.
func (w *Watchdog) Arm(d time.Duration, cause error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.timer.Stop()
	w.d, w.cause = d, cause
	w.timer.Reset(d)
}

// Restart restarts the countdown with the duration and cause last given
// to NewWatchdog or Arm: an idle timeout re-armed on every read.
func (w *Watchdog) Restart() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.timer.Stop()
	w.timer.Reset(w.d)
}

// Pause stops the countdown until the next Arm, for instance while the
// consumer takes an event: an idle timeout should measure the provider
// only.
func (w *Watchdog) Pause() {
	w.mu.Lock()
	w.timer.Stop()
	w.mu.Unlock()
}

// fire cancels the context with the current cause.
func (w *Watchdog) fire() {
	w.mu.Lock()
	cause := w.cause
	w.mu.Unlock()
	w.cancel(cause)
}

// Stop disarms the watchdog and releases its context.
func (w *Watchdog) Stop() {
	w.mu.Lock()
	w.timer.Stop()
	w.mu.Unlock()
	w.cancel(context.Canceled)
}
