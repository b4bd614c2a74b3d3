package sdk

import (
	"context"
	"errors"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	parleyv1 "github.com/parleyhq/parley/sdk/proto/parley/v1"
)

// grpcCodes maps every Code to its gRPC status code, one to one.
func grpcCode(c Code) (codes.Code, bool) {
	switch c {
	case CodeCanceled:
		return codes.Canceled, true
	case CodeInvalidArgument:
		return codes.InvalidArgument, true
	case CodeDeadlineExceeded:
		return codes.DeadlineExceeded, true
	case CodeNotFound:
		return codes.NotFound, true
	case CodePermissionDenied:
		return codes.PermissionDenied, true
	case CodeResourceExhausted:
		return codes.ResourceExhausted, true
	case CodeFailedPrecondition:
		return codes.FailedPrecondition, true
	case CodeUnimplemented:
		return codes.Unimplemented, true
	case CodeInternal:
		return codes.Internal, true
	case CodeUnavailable:
		return codes.Unavailable, true
	case CodeUnauthenticated:
		return codes.Unauthenticated, true
	default:
		return codes.Internal, false
	}
}

// codeFromGRPC maps a gRPC status code to a Code. The gRPC codes without a
// Code of their own fold into the nearest one.
func codeFromGRPC(c codes.Code) Code {
	switch c {
	case codes.Canceled:
		return CodeCanceled
	case codes.InvalidArgument, codes.OutOfRange:
		return CodeInvalidArgument
	case codes.DeadlineExceeded:
		return CodeDeadlineExceeded
	case codes.NotFound:
		return CodeNotFound
	case codes.PermissionDenied:
		return CodePermissionDenied
	case codes.ResourceExhausted:
		return CodeResourceExhausted
	case codes.FailedPrecondition, codes.AlreadyExists:
		return CodeFailedPrecondition
	case codes.Unimplemented:
		return CodeUnimplemented
	case codes.Unavailable, codes.Aborted:
		return CodeUnavailable
	case codes.Unauthenticated:
		return CodeUnauthenticated
	default:
		return CodeInternal
	}
}

// toStatus turns an error returned by a plugin implementation into the
// gRPC status error sent to the host. A *Error keeps its code, message,
// details and retry hint (in an ErrorDetail); context errors become
// Canceled / DeadlineExceeded; an error that already is a gRPC status is
// passed through; anything else is Internal.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	switch {
	case errors.As(err, &e):
	case errors.Is(err, context.Canceled):
		e = &Error{Code: CodeCanceled, Message: err.Error()}
	case errors.Is(err, context.DeadlineExceeded):
		e = &Error{Code: CodeDeadlineExceeded, Message: err.Error()}
	default:
		if _, ok := status.FromError(err); ok {
			return err
		}
		e = &Error{Code: CodeInternal, Message: err.Error()}
	}
	gc, known := grpcCode(e.Code)
	code := string(e.Code)
	if !known {
		code = string(CodeInternal)
	}
	msg := e.Message
	if e.Err != nil {
		// The cause does not cross the boundary; its text does.
		msg = msg + ": " + e.Err.Error()
	}
	st := status.New(gc, msg)
	detail := &parleyv1.ErrorDetail{
		Code:         code,
		Message:      msg,
		Details:      e.Details,
		RetryAfterMs: e.RetryAfter.Milliseconds(),
	}
	if withDetail, derr := st.WithDetails(detail); derr == nil {
		st = withDetail
	}
	return st.Err()
}

// fromStatus turns an error from a gRPC call into a *Error. io.EOF and nil
// pass through unchanged. Canceled and DeadlineExceeded wrap the matching
// context error, so errors.Is(err, context.Canceled) holds on the host.
func fromStatus(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		// The local context ended before the call got a status.
		return &Error{Code: CodeOf(err), Message: err.Error(), Err: contextCause(CodeOf(err))}
	}
	st, ok := status.FromError(err)
	if !ok {
		return &Error{Code: CodeInternal, Message: err.Error(), Err: err}
	}
	e := &Error{Code: codeFromGRPC(st.Code()), Message: st.Message()}
	for _, d := range st.Details() {
		detail, ok := d.(*parleyv1.ErrorDetail)
		if !ok {
			continue
		}
		if _, known := grpcCode(Code(detail.GetCode())); known {
			e.Code = Code(detail.GetCode())
		}
		e.Message = detail.GetMessage()
		if len(detail.GetDetails()) > 0 {
			e.Details = detail.GetDetails()
		}
		e.RetryAfter = time.Duration(detail.GetRetryAfterMs()) * time.Millisecond
		break
	}
	e.Err = contextCause(e.Code)
	return e
}

// contextCause returns the context error matching a code, or nil.
func contextCause(c Code) error {
	switch c {
	case CodeCanceled:
		return context.Canceled
	case CodeDeadlineExceeded:
		return context.DeadlineExceeded
	default:
		return nil
	}
}
