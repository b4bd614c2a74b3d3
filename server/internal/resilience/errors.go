package resilience

import "errors"

// ErrBreakerOpen is returned (wrapped, with the breaker's name) when a
// circuit breaker is open and rejects a call without trying it.
var ErrBreakerOpen = errors.New("circuit breaker open")

// ErrBreakerBusy is returned (wrapped) when a half-open breaker already lets
// its quota of trial calls through and rejects one more.
var ErrBreakerBusy = errors.New("circuit breaker half-open: trial calls in flight")

// ErrRetriesExhausted is joined to the last error when Retry used all the
// attempts its policy allows. errors.Is/As still find the last error.
var ErrRetriesExhausted = errors.New("retries exhausted")

// ErrRetryAfterTooLong is joined to a ResourceExhausted error whose
// RetryAfter hint exceeds the policy's MaxBackoff: Retry gives up at once
// rather than stall a real-time turn, so the caller can fall back.
var ErrRetryAfterTooLong = errors.New("retry-after hint exceeds max backoff")
