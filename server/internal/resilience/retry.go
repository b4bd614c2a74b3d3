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
	attempts := max(p.MaxAttempts, 1)
	backoff := p.InitialBackoff
	mult := p.Multiplier
	switch {
	case mult == 0:
		mult = defaultMultiplier
	case mult < 1:
		mult = 1
	}
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || !IsTransient(err) {
			return err
		}
		if attempt >= attempts {
			return fmt.Errorf("%w after %d attempts: %w", ErrRetriesExhausted, attempt, err)
		}
		d := jittered(min(backoff, p.MaxBackoff), jitter)
		if hint := retryAfter(err); hint > 0 {
			if hint > p.MaxBackoff {
				return fmt.Errorf("%w (%s > %s): %w", ErrRetryAfterTooLong, hint, p.MaxBackoff, err)
			}
			d = max(d, hint)
		}
		if werr := wait(ctx, d); werr != nil {
			return errors.Join(err, werr)
		}
		backoff = time.Duration(float64(backoff) * mult)
	}
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
