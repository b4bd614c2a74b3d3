package sdk_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
)

// TestErrorsCrossTheWire sends every code from the plugin's Configure to
// the host and checks that code, message, details and retry hint survive.
func TestErrorsCrossTheWire(t *testing.T) {
	stt, ok := dispense(t, sdk.ServeConfig{STT: fakeSTT{fakeBase{sdk.KindSTT}}}, sdk.KindSTT).(sdk.STT)
	require.True(t, ok)
	codes := []sdk.Code{
		sdk.CodeCanceled, sdk.CodeInvalidArgument, sdk.CodeDeadlineExceeded, sdk.CodeNotFound,
		sdk.CodePermissionDenied, sdk.CodeResourceExhausted, sdk.CodeFailedPrecondition,
		sdk.CodeUnimplemented, sdk.CodeInternal, sdk.CodeUnavailable, sdk.CodeUnauthenticated,
	}
	for _, code := range codes {
		t.Run(string(code), func(t *testing.T) {
			sent := map[string]any{"error": map[string]any{
				"code": code, "message": "bad " + string(code),
				"details":     map[string]string{"field": "model", "provider_status": "429"},
				"retry_after": 2500 * time.Millisecond,
			}}
			settings, err := json.Marshal(sent)
			require.NoError(t, err)
			err = stt.Configure(t.Context(), settings)

			require.ErrorIs(t, err, &sdk.Error{Code: code})
			require.ErrorIs(t, err, &sdk.Error{Code: code, Message: "bad " + string(code)})
			assert.NotErrorIs(t, err, &sdk.Error{Code: code, Message: "other"})
			var e *sdk.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, code, e.Code)
			assert.Equal(t, "bad "+string(code), e.Message)
			assert.Equal(t, map[string]string{"field": "model", "provider_status": "429"}, e.Details)
			assert.Equal(t, 2500*time.Millisecond, e.RetryAfter)
			assert.Equal(t, code, sdk.CodeOf(err))
			switch code {
			case sdk.CodeCanceled:
				assert.ErrorIs(t, err, context.Canceled)
			case sdk.CodeDeadlineExceeded:
				assert.ErrorIs(t, err, context.DeadlineExceeded)
			default:
				assert.NotErrorIs(t, err, context.Canceled)
			}
		})
	}
}

func TestPlainErrorsCrossTheWire(t *testing.T) {
	stt, ok := dispense(t, sdk.ServeConfig{STT: fakeSTT{fakeBase{sdk.KindSTT}}}, sdk.KindSTT).(sdk.STT)
	require.True(t, ok)
	tests := []struct {
		name     string
		settings string
		code     sdk.Code
		message  string
	}{
		{"plain error is internal", `{"plain": "disk on fire"}`, sdk.CodeInternal, "disk on fire"},
		{"unknown code is internal", `{"error": {"code": "teapot", "message": "short and stout"}}`, sdk.CodeInternal, "short and stout"},
		{"invalid field", `not json`, sdk.CodeInvalidArgument, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := stt.Configure(t.Context(), json.RawMessage(tt.settings))
			var e *sdk.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tt.code, e.Code)
			assert.Contains(t, e.Message, tt.message)
		})
	}
}
