package providerhttp

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/parleyhq/parley/sdk"
)

func response(status int, body string, h http.Header) *http.Response {
	if h == nil {
		h = http.Header{}
	}
	return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(body))}
}

func TestErrorFromResponse(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		body       string
		header     http.Header
		code       sdk.Code
		msg        string
		retryAfter time.Duration
	}{
		{"anthropic invalid request", 400, `{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: required"}}`, nil, sdk.CodeInvalidArgument, "max_tokens: required", 0},
		{"openai bad key", 401, `{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}`, nil, sdk.CodeUnauthenticated, "Incorrect API key provided", 0},
		{"forbidden", 403, `{"detail":{"status":"forbidden","message":"no access to voice"}}`, nil, sdk.CodePermissionDenied, "no access to voice", 0},
		{"rate limited seconds", 429, `{"error":{"message":"slow down"}}`, http.Header{"Retry-After": {"3"}}, sdk.CodeResourceExhausted, "slow down", 3 * time.Second},
		{"rate limited ms", 429, `{}`, http.Header{"Retry-After-Ms": {"250"}}, sdk.CodeResourceExhausted, "Too Many Requests", 250 * time.Millisecond},
		{"overloaded", 529, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`, nil, sdk.CodeUnavailable, "Overloaded", 0},
		{"server error plain text", 502, "bad gateway", nil, sdk.CodeUnavailable, "bad gateway", 0},
		{"deepgram style", 400, `{"err_code":"Bad Request","err_msg":"bad encoding"}`, nil, sdk.CodeInvalidArgument, "bad encoding", 0},
		{"fastapi detail string", 422, `{"detail":"unsupported model"}`, nil, sdk.CodeInvalidArgument, "unsupported model", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ErrorFromResponse("prov", response(tt.status, tt.body, tt.header))
			assert.Equal(t, tt.code, err.Code)
			assert.Equal(t, "prov: "+tt.msg, err.Message)
			assert.Equal(t, tt.retryAfter, err.RetryAfter)
			assert.Equal(t, "prov", err.Details[DetailProvider])
		})
	}
}

func TestRetryAfterHTTPDate(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	h := http.Header{"Retry-After": {now.Add(5 * time.Second).Format(http.TimeFormat)}}
	assert.Equal(t, 5*time.Second, RetryAfter(h, now))
	assert.Zero(t, RetryAfter(http.Header{"Retry-After": {"soon"}}, now))
}

func TestErrorFromTransport(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		code sdk.Code
	}{
		{"caller canceled", canceled, context.Canceled, sdk.CodeCanceled},
		{"reset", context.Background(), syscall.ECONNRESET, sdk.CodeUnavailable},
		{"truncated", context.Background(), io.ErrUnexpectedEOF, sdk.CodeUnavailable},
		{"typed passes through", context.Background(), sdk.Errorf(sdk.CodeInvalidArgument, "x"), sdk.CodeInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.code, ErrorFromTransport(tt.ctx, "prov", tt.err).Code)
		})
	}
}

func TestUnavailable(t *testing.T) {
	cause := errors.New("bad json")
	e := Unavailable("prov", "malformed stream: x", cause)
	assert.Equal(t, sdk.CodeUnavailable, e.Code)
	assert.Equal(t, "prov: malformed stream: x", e.Message)
	assert.Equal(t, "prov", e.Details[DetailProvider])
	assert.ErrorIs(t, e, cause)
	assert.Nil(t, Unavailable("prov", "closed", nil).Err)
	assert.NotErrorIs(t, Unavailable("prov", "closed", io.EOF), io.EOF)
}
