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

// ErrNotCounted marks a call outcome a Breaker must ignore — neither a
// success nor a failure — such as a call cut short because the plugin
// process died, which its supervisor already handles. Wrap the outcome
// with it before passing it to the done func of Breaker.Allow.
var ErrNotCounted = errors.New("outcome not counted by the breaker")
