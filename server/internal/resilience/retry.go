package resilience

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/config"
)

const (
	// defaultMultiplier grows the backoff when the policy leaves Multiplier zero.
	defaultMultiplier = 2.0
	// jitterFraction of each backoff is randomised ("equal jitter"): the
	// wait is uniformly in [d*(1-jitterFraction), d], so retries of many
	// sessions hitting the same failing plugin spread out.
	jitterFraction = 0.5
)

// waitFunc waits d or until ctx is done, returning ctx's error in that case.
type waitFunc func(ctx context.Context, d time.Duration) error

// jitterFunc returns a value in [0, 1).
type jitterFunc func() float64

// Retry calls fn until it returns nil or a non-transient error (see
// IsTransient), p.MaxAttempts calls were made, or ctx is done. Between
// attempts it waits an exponentially growing, jittered backoff (from
// p.InitialBackoff, times p.Multiplier, at most p.MaxBackoff) in a select on
// ctx.Done(). A ResourceExhausted error's RetryAfter hint is honoured: the
// wait is at least the hint, and if the hint exceeds p.MaxBackoff Retry gives
// up at once (ErrRetryAfterTooLong) so the caller can fall back instead of
// stalling. A MaxAttempts below 1 means one attempt.
//
// The returned error is fn's last error, joined with ErrRetriesExhausted
// when attempts ran out; errors.Is/As and sdk.CodeOf see fn's error.
func Retry(ctx context.Context, p config.Retry, fn func(ctx context.Context) error) error {
	return retry(ctx, p, fn, sleepCtx, rand.Float64)
}

func retry(ctx context.Context, p config.Retry, fn func(ctx context.Context) error, wait waitFunc, jitter jitterFunc) error {
	b := newBackoff(p, jitter)
	for {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		d, gerr := b.Next(err)
		if gerr != nil {
			return gerr
		}
		if werr := wait(ctx, d); werr != nil {
			return errors.Join(err, werr)
		}
	}
}

// Backoff is the retry schedule of one logical call, for callers that
// cannot wrap the call in one function (streams that fail after opening).
// It is not safe for concurrent use.
type Backoff struct {
	p       config.Retry
	mult    float64
	attempt int
	next    time.Duration
	jitter  jitterFunc
}

// NewBackoff returns the schedule for policy p; the first attempt is
// assumed made when Next is first called.
func NewBackoff(p config.Retry) *Backoff {
	return newBackoff(p, rand.Float64)
}

func newBackoff(p config.Retry, jitter jitterFunc) *Backoff {
	mult := p.Multiplier
	switch {
	case mult == 0:
		mult = defaultMultiplier
	case mult < 1:
		mult = 1
	}
	return &Backoff{p: p, mult: mult, attempt: 1, next: p.InitialBackoff, jitter: jitter}
}

// Next is called after an attempt failed with err. It returns how long to
// wait before the next attempt, or a non-nil error (err itself, or err
// joined with ErrRetriesExhausted / ErrRetryAfterTooLong) when err must not
// be retried: it is not transient, the attempts are used up, or its
// RetryAfter hint exceeds MaxBackoff.
func (b *Backoff) Next(err error) (time.Duration, error) {
	if !IsTransient(err) {
		return 0, err
	}
	if b.attempt >= max(b.p.MaxAttempts, 1) {
		return 0, fmt.Errorf("%w after %d attempts: %w", ErrRetriesExhausted, b.attempt, err)
	}
	d := jittered(min(b.next, b.p.MaxBackoff), b.jitter)
	if hint := retryAfter(err); hint > 0 {
		if hint > b.p.MaxBackoff {
			return 0, fmt.Errorf("%w (%s > %s): %w", ErrRetryAfterTooLong, hint, b.p.MaxBackoff, err)
		}
		d = max(d, hint)
	}
	b.attempt++
	b.next = time.Duration(float64(b.next) * b.mult)
	return d, nil
}

// Wait waits d or until ctx is done, returning ctx's error in that case.
func Wait(ctx context.Context, d time.Duration) error {
	return sleepCtx(ctx, d)
}

// retryAfter returns the RetryAfter hint of a ResourceExhausted error.
func retryAfter(err error) time.Duration {
	var e *sdk.Error
	if errors.As(err, &e) && e.Code == sdk.CodeResourceExhausted {
		return e.RetryAfter
	}
	return 0
}

func jittered(d time.Duration, jitter jitterFunc) time.Duration {
	if d <= 0 {
		return 0
	}
	return d - time.Duration(float64(d)*jitterFraction*jitter())
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
