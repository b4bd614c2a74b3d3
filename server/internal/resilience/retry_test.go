package resilience

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/config"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeClock records the waits Retry asks for and returns at once (or the
// context's error when it is already done).
type fakeClock struct {
	waits []time.Duration
}

func (c *fakeClock) wait(ctx context.Context, d time.Duration) error {
	c.waits = append(c.waits, d)
	return ctx.Err()
}

func noJitter() float64 { return 0 }

var testPolicy = config.Retry{
	MaxAttempts:    4,
	InitialBackoff: 10 * time.Millisecond,
	MaxBackoff:     25 * time.Millisecond,
	Multiplier:     2,
}

// script returns fn that yields errs in order, then nil, counting calls.
func script(calls *int, errs ...error) func(context.Context) error {
	return func(context.Context) error {
		*calls++
		if *calls <= len(errs) {
			return errs[*calls-1]
		}
		return nil
	}
}

func TestRetryClassification(t *testing.T) {
	transient := []sdk.Code{sdk.CodeUnavailable, sdk.CodeResourceExhausted, sdk.CodeDeadlineExceeded}
	for _, c := range transient {
		t.Run("retries "+string(c), func(t *testing.T) {
			clock := &fakeClock{}
			calls := 0
			err := retry(context.Background(), testPolicy, script(&calls, sdk.Errorf(c, "x")), clock.wait, noJitter)
			require.NoError(t, err)
			assert.Equal(t, 2, calls)
			assert.Equal(t, []time.Duration{10 * time.Millisecond}, clock.waits)
		})
	}
	permanent := []error{
		sdk.Errorf(sdk.CodeInvalidArgument, "x"),
		sdk.Errorf(sdk.CodeUnauthenticated, "x"),
		sdk.Errorf(sdk.CodePermissionDenied, "x"),
		sdk.Errorf(sdk.CodeNotFound, "x"),
		sdk.Errorf(sdk.CodeFailedPrecondition, "x"),
		sdk.Errorf(sdk.CodeUnimplemented, "x"),
		sdk.Errorf(sdk.CodeCanceled, "x"),
		sdk.Errorf(sdk.CodeInternal, "x"),
		errors.New("plain error"),
		ErrBreakerOpen,
	}
	for _, perr := range permanent {
		t.Run("does not retry "+perr.Error(), func(t *testing.T) {
			clock := &fakeClock{}
			calls := 0
			err := retry(context.Background(), testPolicy, script(&calls, perr), clock.wait, noJitter)
			require.ErrorIs(t, err, perr)
			assert.Equal(t, 1, calls)
			assert.Empty(t, clock.waits)
		})
	}
}

func TestRetryBackoffGrowsAndCaps(t *testing.T) {
	clock := &fakeClock{}
	calls := 0
	unavailable := sdk.Errorf(sdk.CodeUnavailable, "down")
	err := retry(context.Background(), testPolicy,
		script(&calls, unavailable, unavailable, unavailable, unavailable, unavailable), clock.wait, noJitter)
	require.ErrorIs(t, err, ErrRetriesExhausted)
	require.ErrorIs(t, err, unavailable)
	assert.Equal(t, sdk.CodeUnavailable, sdk.CodeOf(err))
	assert.Equal(t, 4, calls)
	assert.Equal(t, []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 25 * time.Millisecond}, clock.waits)
}

func TestRetryJitterStaysWithinBounds(t *testing.T) {
	for _, j := range []float64{0, 0.5, 0.999} {
		clock := &fakeClock{}
		calls := 0
		p := testPolicy
		p.MaxAttempts = 2
		_ = retry(context.Background(), p, script(&calls, sdk.Errorf(sdk.CodeUnavailable, "x")), clock.wait,
			func() float64 { return j })
		require.Len(t, clock.waits, 1)
		assert.LessOrEqual(t, clock.waits[0], 10*time.Millisecond)
		assert.GreaterOrEqual(t, clock.waits[0], 5*time.Millisecond)
	}
}

func TestRetryAfterHint(t *testing.T) {
	tests := []struct {
		name      string
		hint      time.Duration
		wantWaits []time.Duration
		wantErr   error
	}{
		{name: "hint longer than backoff is honoured", hint: 20 * time.Millisecond, wantWaits: []time.Duration{20 * time.Millisecond}},
		{name: "hint shorter than backoff keeps backoff", hint: time.Millisecond, wantWaits: []time.Duration{10 * time.Millisecond}},
		{name: "hint above max backoff gives up", hint: time.Minute, wantErr: ErrRetryAfterTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{}
			calls := 0
			limited := &sdk.Error{Code: sdk.CodeResourceExhausted, Message: "slow down", RetryAfter: tt.hint}
			err := retry(context.Background(), testPolicy, script(&calls, limited), clock.wait, noJitter)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.ErrorIs(t, err, limited)
				assert.Equal(t, 1, calls)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantWaits, clock.waits)
		})
	}
}

func TestRetryStopsWhenCallerContextDone(t *testing.T) {
	t.Run("caller deadline is not retried", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		calls := 0
		err := Retry(ctx, testPolicy, func(context.Context) error {
			calls++
			cancel()
			return sdk.Errorf(sdk.CodeDeadlineExceeded, "caller gave up")
		})
		require.Error(t, err)
		assert.Equal(t, 1, calls)
	})
	t.Run("cancel during backoff wait returns promptly", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		p := testPolicy
		p.InitialBackoff = time.Hour
		p.MaxBackoff = time.Hour
		done := make(chan error, 1)
		started := make(chan struct{})
		go func() {
			done <- Retry(ctx, p, func(context.Context) error {
				close(started)
				return sdk.Errorf(sdk.CodeUnavailable, "down")
			})
		}()
		<-started
		cancel()
		err := <-done
		require.ErrorIs(t, err, context.Canceled)
		require.ErrorIs(t, err, &sdk.Error{Code: sdk.CodeUnavailable})
	})
}

func TestRetryZeroPolicyMakesOneAttempt(t *testing.T) {
	calls := 0
	err := Retry(context.Background(), config.Retry{}, script(&calls, sdk.Errorf(sdk.CodeUnavailable, "x")))
	require.ErrorIs(t, err, ErrRetriesExhausted)
	assert.Equal(t, 1, calls)
}

func TestRetryRealWaitSucceeds(t *testing.T) {
	calls := 0
	p := config.Retry{MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond}
	err := Retry(context.Background(), p, script(&calls, sdk.Errorf(sdk.CodeUnavailable, "x"), sdk.Errorf(sdk.CodeUnavailable, "x")))
	require.NoError(t, err)
	assert.Equal(t, 3, calls)
}
