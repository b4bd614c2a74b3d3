// Package resilience keeps plugin calls working when plugins fail: Retry
// with exponential backoff and jitter for transient errors, and circuit
// breakers (sony/gobreaker v2) that stop calling a failing plugin for a
// cool-down. Errors are classified by their sdk.Code, which survives the
// plugin process boundary.
package resilience

import (
	"errors"

	"github.com/parleyhq/parley/sdk"
)

// IsTransient reports whether err is worth retrying: the plugin (or its
// provider) is unavailable, rate limited, or timed out on its side. A
// caller's own context error is never transient; Retry checks the caller's
// context separately.
func IsTransient(err error) bool {
	if err == nil || IsBreakerRejection(err) {
		return false
	}
	switch sdk.CodeOf(err) {
	case sdk.CodeUnavailable, sdk.CodeResourceExhausted, sdk.CodeDeadlineExceeded:
		return true
	default:
		return false
	}
}

// IsCallerError reports whether err is the caller's fault or choice (bad
// input, missing permission, unsupported call, cancellation). Such errors
// are never retried and do not count against a plugin's breaker.
func IsCallerError(err error) bool {
	if err == nil {
		return false
	}
	switch sdk.CodeOf(err) {
	case sdk.CodeInvalidArgument, sdk.CodeUnauthenticated, sdk.CodePermissionDenied,
		sdk.CodeNotFound, sdk.CodeFailedPrecondition, sdk.CodeUnimplemented, sdk.CodeCanceled:
		return true
	default:
		return false
	}
}

// IsBreakerRejection reports whether err says a breaker refused the call
// (open, or half-open with its trial calls in flight).
func IsBreakerRejection(err error) bool {
	return errors.Is(err, ErrBreakerOpen) || errors.Is(err, ErrBreakerBusy)
}
