package resilience

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/config"
)

type transition struct {
	from, to gobreaker.State
}

type recorder struct {
	mu  sync.Mutex
	got []transition
}

func (r *recorder) onChange(_ string, from, to gobreaker.State) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, transition{from, to})
}

func (r *recorder) transitions() []transition {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]transition(nil), r.got...)
}

func TestBreakerIgnoresCallerErrors(t *testing.T) {
	callerErrs := []error{
		sdk.Errorf(sdk.CodeInvalidArgument, "x"),
		sdk.Errorf(sdk.CodeUnauthenticated, "x"),
		sdk.Errorf(sdk.CodePermissionDenied, "x"),
		sdk.Errorf(sdk.CodeNotFound, "x"),
		sdk.Errorf(sdk.CodeFailedPrecondition, "x"),
		sdk.Errorf(sdk.CodeUnimplemented, "x"),
		sdk.Errorf(sdk.CodeCanceled, "x"),
		context.Canceled,
	}
	for _, cerr := range callerErrs {
		t.Run(cerr.Error(), func(t *testing.T) {
			b := NewBreaker("p", config.Breaker{ConsecutiveFailures: 2, OpenTimeout: time.Hour}, nil)
			for range 5 {
				require.ErrorIs(t, b.Execute(func() error { return cerr }), cerr)
			}
			assert.Equal(t, gobreaker.StateClosed, b.State())
		})
	}
}

func TestBreakerTripsOnConsecutiveFailures(t *testing.T) {
	failures := []error{
		sdk.Errorf(sdk.CodeUnavailable, "x"),
		sdk.Errorf(sdk.CodeInternal, "x"),
		sdk.Errorf(sdk.CodeDeadlineExceeded, "x"),
		errors.New("plain"),
	}
	for _, ferr := range failures {
		t.Run(ferr.Error(), func(t *testing.T) {
			rec := &recorder{}
			b := NewBreaker("p", config.Breaker{ConsecutiveFailures: 3, OpenTimeout: time.Hour}, rec.onChange)
			fail := func() error { return ferr }
			require.Error(t, b.Execute(fail))
			require.Error(t, b.Execute(fail))
			require.NoError(t, b.Execute(func() error { return nil }), "a success resets the count")
			require.Error(t, b.Execute(fail))
			require.Error(t, b.Execute(fail))
			assert.Equal(t, gobreaker.StateClosed, b.State())
			require.Error(t, b.Execute(fail))
			assert.Equal(t, gobreaker.StateOpen, b.State())

			called := false
			err := b.Execute(func() error { called = true; return nil })
			require.ErrorIs(t, err, ErrBreakerOpen)
			assert.True(t, IsBreakerRejection(err))
			assert.Contains(t, err.Error(), "p")
			assert.False(t, called, "an open breaker must not call through")
			assert.Equal(t, []transition{{gobreaker.StateClosed, gobreaker.StateOpen}}, rec.transitions())
		})
	}
}

func TestBreakerHalfOpensAndCloses(t *testing.T) {
	const coolDown = 20 * time.Millisecond
	rec := &recorder{}
	b := NewBreaker("p", config.Breaker{ConsecutiveFailures: 1, OpenTimeout: coolDown, HalfOpenRequests: 1}, rec.onChange)
	require.Error(t, b.Execute(func() error { return sdk.Errorf(sdk.CodeUnavailable, "down") }))
	require.Equal(t, gobreaker.StateOpen, b.State())

	require.Eventually(t, func() bool { return b.State() == gobreaker.StateHalfOpen }, time.Second, time.Millisecond)

	done, err := b.Allow()
	require.NoError(t, err)
	_, err = b.Allow()
	require.ErrorIs(t, err, ErrBreakerBusy, "one trial call at a time")
	done(nil)
	assert.Equal(t, gobreaker.StateClosed, b.State())
	assert.Equal(t, []transition{
		{gobreaker.StateClosed, gobreaker.StateOpen},
		{gobreaker.StateOpen, gobreaker.StateHalfOpen},
		{gobreaker.StateHalfOpen, gobreaker.StateClosed},
	}, rec.transitions())
}

func TestBreakerHalfOpenFailureReopens(t *testing.T) {
	b := NewBreaker("p", config.Breaker{ConsecutiveFailures: 1, OpenTimeout: 10 * time.Millisecond}, nil)
	require.Error(t, b.Execute(func() error { return sdk.Errorf(sdk.CodeUnavailable, "down") }))
	require.Eventually(t, func() bool { return b.State() == gobreaker.StateHalfOpen }, time.Second, time.Millisecond)
	require.Error(t, b.Execute(func() error { return sdk.Errorf(sdk.CodeUnavailable, "still down") }))
	assert.Equal(t, gobreaker.StateOpen, b.State())
}

func TestBreakerDefaultTrip(t *testing.T) {
	b := NewBreaker("p", config.Breaker{OpenTimeout: time.Hour}, nil)
	for range defaultConsecutiveFailures - 1 {
		_ = b.Execute(func() error { return sdk.Errorf(sdk.CodeUnavailable, "x") })
	}
	assert.Equal(t, gobreaker.StateClosed, b.State())
	_ = b.Execute(func() error { return sdk.Errorf(sdk.CodeUnavailable, "x") })
	assert.Equal(t, gobreaker.StateOpen, b.State())
}

func TestClassify(t *testing.T) {
	assert.False(t, IsTransient(nil))
	assert.False(t, IsCallerError(nil))
	assert.True(t, IsTransient(sdk.Errorf(sdk.CodeUnavailable, "x")))
	assert.False(t, IsTransient(errors.Join(ErrBreakerOpen, sdk.Errorf(sdk.CodeUnavailable, "x"))),
		"breaker rejections are for fallback, not retry")
	assert.True(t, IsCallerError(context.Canceled))
	assert.False(t, IsCallerError(context.DeadlineExceeded))
}

func TestBreakerIgnoresNotCounted(t *testing.T) {
	b := NewBreaker("p", config.Breaker{ConsecutiveFailures: 2, OpenTimeout: time.Hour}, nil)
	fail := func() error { return sdk.Errorf(sdk.CodeUnavailable, "x") }
	require.Error(t, b.Execute(fail))
	for range 5 {
		err := b.Execute(func() error {
			return fmt.Errorf("%w: %w", ErrNotCounted, sdk.Errorf(sdk.CodeUnavailable, "plugin died"))
		})
		require.Error(t, err)
	}
	assert.Equal(t, gobreaker.StateClosed, b.State(), "ignored outcomes neither trip nor reset")
	require.Error(t, b.Execute(fail))
	assert.Equal(t, gobreaker.StateOpen, b.State(), "the second counted failure trips: ignored ones did not reset the count")
}
