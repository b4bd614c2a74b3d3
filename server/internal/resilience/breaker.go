package resilience

import (
	"errors"
	"fmt"

	"github.com/sony/gobreaker/v2"

	"github.com/parleyhq/parley/server/internal/config"
)

// defaultConsecutiveFailures trips a breaker whose config leaves
// ConsecutiveFailures zero.
const defaultConsecutiveFailures = 5

// Breaker is a circuit breaker around one plugin instance. It counts a call
// as failed only for errors that are not the caller's (see IsCallerError),
// opens after the configured number of consecutive failures, rejects calls
// for the cool-down, then lets trial calls through (half-open) and closes
// again once they succeed.
type Breaker struct {
	name string
	cb   *gobreaker.TwoStepCircuitBreaker[struct{}]
}

// NewBreaker returns a breaker named name configured by cfg. onChange, if not
// nil, is called on every state change (from gobreaker's lock: keep it
// short and do not call the breaker from it). Zero values in cfg take
// gobreaker's defaults (60 s open timeout, one half-open request) except
// ConsecutiveFailures, which defaults to 5.
func NewBreaker(name string, cfg config.Breaker, onChange func(name string, from, to gobreaker.State)) *Breaker {
	trip := cfg.ConsecutiveFailures
	if trip == 0 {
		trip = defaultConsecutiveFailures
	}
	return &Breaker{
		name: name,
		cb: gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
			Name:        name,
			MaxRequests: cfg.HalfOpenRequests,
			Interval:    cfg.Interval,
			Timeout:     cfg.OpenTimeout,
			ReadyToTrip: func(c gobreaker.Counts) bool {
				return c.ConsecutiveFailures >= trip
			},
			OnStateChange: onChange,
			IsSuccessful:  isSuccessful,
			IsExcluded:    func(err error) bool { return errors.Is(err, ErrNotCounted) },
		}),
	}
}

// isSuccessful counts caller errors and cancellation as success: they say
// nothing about the plugin's health.
func isSuccessful(err error) bool {
	return err == nil || IsCallerError(err)
}

// Name returns the breaker's name.
func (b *Breaker) Name() string { return b.name }

// State returns the breaker's state (moving open to half-open once the
// cool-down has passed).
func (b *Breaker) State() gobreaker.State { return b.cb.State() }

// Allow asks whether a call may proceed. If so, the caller must call done
// exactly once with the call's outcome (nil for success; wrapped with
// ErrNotCounted to be ignored). If not, err wraps
// ErrBreakerOpen or ErrBreakerBusy and names the breaker.
func (b *Breaker) Allow() (done func(err error), err error) {
	done, err = b.cb.Allow()
	switch {
	case err == nil:
		return done, nil
	case errors.Is(err, gobreaker.ErrOpenState):
		return nil, fmt.Errorf("breaker %s: %w", b.name, ErrBreakerOpen)
	case errors.Is(err, gobreaker.ErrTooManyRequests):
		return nil, fmt.Errorf("breaker %s: %w", b.name, ErrBreakerBusy)
	default:
		return nil, fmt.Errorf("breaker %s: %w", b.name, err)
	}
}

// Execute runs fn if the breaker allows it and records its outcome.
func (b *Breaker) Execute(fn func() error) error {
	done, err := b.Allow()
	if err != nil {
		return err
	}
	err = fn()
	done(err)
	return err
}
