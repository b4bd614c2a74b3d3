package providerhttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
)

// The watchdog tests run in a synctest bubble: its clock only moves when
// every goroutine waits, so the countdowns are exact without real sleeps.

func TestWatchdogFiresWithItsCause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, w := NewWatchdog(t.Context(), 10*time.Millisecond, ErrFirstByteTimeout)
		defer w.Stop()
		time.Sleep(9 * time.Millisecond)
		synctest.Wait()
		require.NoError(t, ctx.Err(), "not before the deadline")
		time.Sleep(time.Millisecond)
		synctest.Wait()
		assert.ErrorIs(t, context.Cause(ctx), ErrFirstByteTimeout)
	})
}

func TestWatchdogArmRestartsWithNewCause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, w := NewWatchdog(t.Context(), 10*time.Millisecond, ErrFirstByteTimeout)
		defer w.Stop()
		time.Sleep(8 * time.Millisecond)
		w.Arm(20*time.Millisecond, ErrIdleTimeout)
		time.Sleep(19 * time.Millisecond)
		synctest.Wait()
		require.NoError(t, ctx.Err(), "re-arming restarts the countdown")
		time.Sleep(time.Millisecond)
		synctest.Wait()
		assert.ErrorIs(t, context.Cause(ctx), ErrIdleTimeout)
	})
}

func TestWatchdogPauseHoldsUntilArm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, w := NewWatchdog(t.Context(), 10*time.Millisecond, ErrFirstByteTimeout)
		defer w.Stop()
		time.Sleep(5 * time.Millisecond)
		w.Pause()
		time.Sleep(time.Hour)
		synctest.Wait()
		require.NoError(t, ctx.Err(), "a paused watchdog never fires")
		w.Arm(10*time.Millisecond, ErrIdleTimeout)
		time.Sleep(10 * time.Millisecond)
		synctest.Wait()
		assert.ErrorIs(t, context.Cause(ctx), ErrIdleTimeout)
	})
}

func TestWatchdogKeepsTheFirstCause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, w := NewWatchdog(t.Context(), time.Millisecond, ErrRequestTimeout)
		time.Sleep(time.Millisecond)
		synctest.Wait()
		w.Arm(time.Millisecond, ErrIdleTimeout)
		time.Sleep(time.Millisecond)
		synctest.Wait()
		w.Stop()
		assert.ErrorIs(t, context.Cause(ctx), ErrRequestTimeout)
	})
}

func TestWatchdogStopReleasesTheContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, w := NewWatchdog(t.Context(), time.Hour, ErrIdleTimeout)
		w.Stop()
		assert.ErrorIs(t, context.Cause(ctx), context.Canceled)
		assert.False(t, IsTimeout(context.Cause(ctx)))
	})
}

func TestErrorFromRequest(t *testing.T) {
	alive := context.Background()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	idle := fmt.Errorf("no data for 50ms: %w", ErrIdleTimeout)
	timedOut := func(cause error) context.Context {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(cause)
		return ctx
	}
	tests := []struct {
		name   string
		ctx    context.Context
		reqCtx context.Context
		err    error
		code   sdk.Code
		msg    string
		is     []error
	}{
		{"first byte timeout", alive, timedOut(ErrFirstByteTimeout), context.Canceled, sdk.CodeUnavailable, "prov: first byte timeout exceeded", []error{ErrFirstByteTimeout, context.Canceled}},
		{"wrapped idle timeout keeps its words", alive, timedOut(idle), io.ErrUnexpectedEOF, sdk.CodeUnavailable, "prov: no data for 50ms: stream idle timeout exceeded", []error{ErrIdleTimeout, io.ErrUnexpectedEOF}},
		{"request timeout", alive, timedOut(ErrRequestTimeout), context.Canceled, sdk.CodeUnavailable, "prov: request timeout exceeded", []error{ErrRequestTimeout}},
		{"caller gave up first", canceled, timedOut(ErrIdleTimeout), context.Canceled, sdk.CodeCanceled, "prov: canceled", nil},
		{"other cancellation cause", alive, timedOut(errors.New("other")), syscall.ECONNRESET, sdk.CodeUnavailable, "prov: connection reset", []error{syscall.ECONNRESET}},
		{"request still running", alive, alive, io.ErrUnexpectedEOF, sdk.CodeUnavailable, "prov: stream ended before completion", []error{io.ErrUnexpectedEOF}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := ErrorFromRequest(tt.ctx, tt.reqCtx, "prov", tt.err)
			assert.Equal(t, tt.code, e.Code)
			assert.Equal(t, tt.msg, e.Message)
			for _, target := range tt.is {
				assert.ErrorIs(t, e, target)
			}
			assert.NotErrorIs(t, e, io.EOF)
		})
	}
}

func TestErrorsNeverReadAsEndOfStream(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	eof := fmt.Errorf("read body: %w", io.EOF)
	tests := []struct {
		name string
		err  *sdk.Error
	}{
		{"transport", ErrorFromTransport(context.Background(), "prov", eof)},
		{"transport canceled", ErrorFromTransport(canceled, "prov", eof)},
		{"timeout", ErrorFromRequest(context.Background(), func() context.Context {
			ctx, cancel := context.WithCancelCause(context.Background())
			cancel(ErrIdleTimeout)
			return ctx
		}(), "prov", eof)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.NotErrorIs(t, tt.err, io.EOF)
			assert.Contains(t, tt.err.Error(), "read body: EOF", "the cause stays readable")
		})
	}
}
