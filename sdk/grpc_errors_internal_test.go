package sdk

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestStatusRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		in   error
		want *Error
	}{
		{"sdk error", &Error{Code: CodeNotFound, Message: "voice x", Details: map[string]string{"voice": "x"}, RetryAfter: time.Second},
			&Error{Code: CodeNotFound, Message: "voice x", Details: map[string]string{"voice": "x"}, RetryAfter: time.Second}},
		{"wrapped sdk error", fmt.Errorf("ctx: %w", &Error{Code: CodeUnavailable, Message: "down"}),
			&Error{Code: CodeUnavailable, Message: "down"}},
		{"cause text crosses, cause does not", &Error{Code: CodeInternal, Message: "m", Err: errors.New("cause")},
			&Error{Code: CodeInternal, Message: "m: cause"}},
		{"context canceled", fmt.Errorf("read: %w", context.Canceled),
			&Error{Code: CodeCanceled, Message: "read: context canceled", Err: context.Canceled}},
		{"deadline", context.DeadlineExceeded,
			&Error{Code: CodeDeadlineExceeded, Message: "context deadline exceeded", Err: context.DeadlineExceeded}},
		{"plain", errors.New("boom"), &Error{Code: CodeInternal, Message: "boom"}},
		{"foreign status", status.Error(codes.OutOfRange, "far"), &Error{Code: CodeInvalidArgument, Message: "far"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fromStatus(toStatus(tt.in))
			require.IsType(t, &Error{}, got)
			assert.Equal(t, tt.want, got)
		})
	}
	assert.NoError(t, toStatus(nil))
	assert.NoError(t, fromStatus(nil))
}

func TestForeignStatusCodes(t *testing.T) {
	tests := map[codes.Code]Code{
		codes.Unknown:       CodeInternal,
		codes.AlreadyExists: CodeFailedPrecondition,
		codes.Aborted:       CodeUnavailable,
		codes.OutOfRange:    CodeInvalidArgument,
		codes.DataLoss:      CodeInternal,
	}
	for in, want := range tests {
		t.Run(in.String(), func(t *testing.T) {
			assert.Equal(t, want, CodeOf(fromStatus(status.Error(in, "x"))))
		})
	}
}

func TestEveryCodeMapsOneToOne(t *testing.T) {
	seen := map[codes.Code]Code{}
	for _, c := range []Code{
		CodeCanceled, CodeInvalidArgument, CodeDeadlineExceeded, CodeNotFound, CodePermissionDenied,
		CodeResourceExhausted, CodeFailedPrecondition, CodeUnimplemented, CodeInternal, CodeUnavailable,
		CodeUnauthenticated,
	} {
		gc, ok := grpcCode(c)
		require.True(t, ok, c)
		require.NotContains(t, seen, gc, "two codes map to %v", gc)
		seen[gc] = c
		assert.Equal(t, c, codeFromGRPC(gc))
	}
}

// TestSTTConfigRoundTrip: every STTConfig field crosses the wire.
func TestSTTConfigRoundTrip(t *testing.T) {
	in := STTConfig{SampleRate: 16000, Encoding: EncodingPCM16LE, Language: "en-GB", InterimResults: true, SessionID: "sess_0123"}
	pb, err := sttConfigToPB(in)
	require.NoError(t, err)
	assert.Equal(t, in, sttConfigFromPB(pb))
}
