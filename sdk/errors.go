package sdk

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Code classifies an error so that the host can decide to retry, trip a
// breaker or fall back. Codes survive the process boundary.
type Code string

// The error codes, mapped one to one to gRPC status codes.
const (
	CodeCanceled           Code = "canceled"
	CodeInvalidArgument    Code = "invalid_argument"
	CodeDeadlineExceeded   Code = "deadline_exceeded"
	CodeNotFound           Code = "not_found"
	CodePermissionDenied   Code = "permission_denied"
	CodeResourceExhausted  Code = "resource_exhausted"
	CodeFailedPrecondition Code = "failed_precondition"
	CodeUnimplemented      Code = "unimplemented"
	CodeInternal           Code = "internal"
	CodeUnavailable        Code = "unavailable"
	CodeUnauthenticated    Code = "unauthenticated"
)

// Error is a typed plugin error. errors.Is(err, &Error{Code: c}) matches any
// *Error with code c, on either side of the process boundary.
type Error struct {
	Code    Code
	Message string
	// Details are small key/value facts (the bad field, the provider status).
	Details map[string]string
	// RetryAfter is the provider's hint for ResourceExhausted; zero if none.
	RetryAfter time.Duration
	// Err is the wrapped cause; it does not cross the process boundary.
	Err error
}

// Errorf returns an *Error with code c and a formatted message.
func Errorf(c Code, format string, args ...any) *Error {
	return &Error{Code: c, Message: fmt.Sprintf(format, args...)}
}

// InvalidField returns an InvalidArgument error naming a bad setting.
func InvalidField(field, format string, args ...any) *Error {
	return &Error{
		Code:    CodeInvalidArgument,
		Message: field + ": " + fmt.Sprintf(format, args...),
		Details: map[string]string{"field": field},
	}
}

// Error implements error.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same code (and, when the
// target has one, the same message).
func (e *Error) Is(target error) bool {
	var t *Error
	if !errors.As(target, &t) || t == nil {
		return false
	}
	return t.Code == e.Code && (t.Message == "" || t.Message == e.Message)
}

// CodeOf returns the code of the first *Error in err's chain, CodeCanceled
// or CodeDeadlineExceeded for context errors, and CodeInternal otherwise.
func CodeOf(err error) Code {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	case errors.Is(err, context.Canceled):
		return CodeCanceled
	case errors.Is(err, context.DeadlineExceeded):
		return CodeDeadlineExceeded
	default:
		return CodeInternal
	}
}
