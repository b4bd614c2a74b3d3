// Package providerhttp helps provider plugins talk to hosted HTTP APIs the
// same way: one mapping from HTTP statuses and transport failures to
// sdk error codes (ErrorFromResponse, ErrorFromTransport, ErrorFromRequest),
// a provider transport with connect timeouts (NewTransport), request,
// first-byte and idle timeouts for streamed responses (Watchdog and the
// timeout causes), a Server-Sent Events reader and the streamed POST loop
// built on it (PostSSE), and a reader of streamed PCM16 audio (ReadPCM16).
package providerhttp

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/parleyhq/parley/sdk"
)

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 64 << 10

// statusOverloaded is the non-standard status some providers (Anthropic)
// use when they are overloaded.
const statusOverloaded = 529

// Detail keys set on mapped errors.
const (
	DetailProvider   = "provider"
	DetailHTTPStatus = "http_status"
	DetailType       = "provider_error_type"
)

// CodeForStatus maps an HTTP status to an sdk error code:
// 400/404/413/415/422 → InvalidArgument, 401 → Unauthenticated,
// 403 → PermissionDenied, 429 → ResourceExhausted, 408, 409, 5xx and 529 →
// Unavailable. Anything else is Internal.
func CodeForStatus(status int) sdk.Code {
	switch {
	case status == http.StatusUnauthorized:
		return sdk.CodeUnauthenticated
	case status == http.StatusForbidden:
		return sdk.CodePermissionDenied
	case status == http.StatusTooManyRequests:
		return sdk.CodeResourceExhausted
	case status == http.StatusRequestTimeout, status == http.StatusConflict,
		status >= http.StatusInternalServerError:
		return sdk.CodeUnavailable
	case status >= http.StatusBadRequest:
		return sdk.CodeInvalidArgument
	default:
		return sdk.CodeInternal
	}
}

// ErrorFromResponse turns a non-2xx response into an *sdk.Error. It reads
// (a bounded part of) the body and closes it. The provider's own message is
// taken from common JSON error shapes; Retry-After (seconds or HTTP date)
// and retry-after-ms are honoured for 429 and 529/503.
func ErrorFromResponse(provider string, resp *http.Response) *sdk.Error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_ = resp.Body.Close()
	status := resp.StatusCode
	code := CodeForStatus(status)
	if status == statusOverloaded {
		code = sdk.CodeUnavailable
	}
	msg, typ := messageFromBody(body)
	if msg == "" {
		msg = http.StatusText(status)
	}
	e := &sdk.Error{
		Code:    code,
		Message: provider + ": " + msg,
		Details: map[string]string{
			DetailProvider:   provider,
			DetailHTTPStatus: strconv.Itoa(status),
		},
		RetryAfter: RetryAfter(resp.Header, time.Now()),
	}
	if typ != "" {
		e.Details[DetailType] = typ
	}
	return e
}

// messageFromBody finds a human message and an error type in the JSON
// error shapes used by the providers Parley supports:
// {"error":{"message","type"}}, {"type":"error","error":{...}},
// {"message"}, {"detail":"..."} and {"detail":{"message","status"}}.
func messageFromBody(body []byte) (msg, typ string) {
	var shape struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
		Detail  json.RawMessage `json:"detail"`
		Type    string          `json:"type"`
		ErrMsg  string          `json:"err_msg"`
	}
	if err := json.Unmarshal(body, &shape); err != nil {
		return strings.TrimSpace(truncate(string(body))), ""
	}
	var inner struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Status  string `json:"status"`
	}
	for _, raw := range []json.RawMessage{shape.Error, shape.Detail} {
		if len(raw) == 0 {
			continue
		}
		var s string
		if json.Unmarshal(raw, &s) == nil && s != "" {
			return truncate(s), shape.Type
		}
		if json.Unmarshal(raw, &inner) == nil && inner.Message != "" {
			if inner.Type == "" {
				inner.Type = inner.Status
			}
			return truncate(inner.Message), inner.Type
		}
	}
	if shape.Message != "" {
		return truncate(shape.Message), shape.Type
	}
	return truncate(shape.ErrMsg), shape.Type
}

// maxMessage bounds a provider message copied into an error.
const maxMessage = 512

func truncate(s string) string {
	if len(s) > maxMessage {
		return s[:maxMessage] + "…"
	}
	return s
}

// RetryAfter parses the retry-after-ms and Retry-After headers (seconds or
// an HTTP date). It returns zero when neither is present or valid.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// ErrorFromTransport maps a failure to reach the provider or to read its
// stream: the caller's own cancellation stays Canceled/DeadlineExceeded,
// while timeouts, refused or reset connections and truncated streams are
// Unavailable (retryable, and counted by the breaker). A cause that wraps
// io.EOF is kept as text only: callers would otherwise read the error as
// the stream's regular end.
func ErrorFromTransport(ctx context.Context, provider string, err error) *sdk.Error {
	var se *sdk.Error
	switch {
	case errors.As(err, &se):
		return se
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled):
		return &sdk.Error{Code: sdk.CodeCanceled, Message: provider + ": canceled", Err: hideEOF(err)}
	case ctx.Err() != nil:
		return &sdk.Error{Code: sdk.CodeDeadlineExceeded, Message: provider + ": deadline exceeded", Err: hideEOF(err)}
	}
	return Unavailable(provider, transportReason(err), err)
}

// Unavailable reports a provider failure that a retry or the next plugin
// in the chain may get past (a broken or malformed stream, a dropped
// connection): the message is provider + ": " + msg, and err, the cause,
// is kept in the chain unless it wraps io.EOF (then as text only, see
// ErrorFromTransport).
func Unavailable(provider, msg string, err error) *sdk.Error {
	return &sdk.Error{
		Code:    sdk.CodeUnavailable,
		Message: provider + ": " + msg,
		Details: map[string]string{DetailProvider: provider},
		Err:     hideEOF(err),
	}
}

// hideEOF replaces an error wrapping io.EOF by one with the same text and
// no chain, so that errors.Is(err, io.EOF) cannot mistake a failure for the
// end of a stream.
func hideEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return errors.New(err.Error())
	}
	return err
}

func transportReason(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "stream ended before completion"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	default:
		return err.Error()
	}
}
