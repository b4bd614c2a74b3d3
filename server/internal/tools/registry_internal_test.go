package tools

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/clock"
	"github.com/parleyhq/parley/server/internal/config"
)

func TestWebhookTool(t *testing.T) {
	var status = http.StatusOK
	var body = `{"ok":true}`
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-block:
			case <-r.Context().Done():
			}
			return
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	defer srv.Close()
	defer close(block)
	mk := func(path string, limit int64, timeout time.Duration) *serverTool {
		st, err := webhookTool(config.WebhookTool{Name: "hook", URL: srv.URL + path, MaxResponseBytes: limit, Timeout: timeout}, srv.Client())
		require.NoError(t, err)
		return st
	}
	ctx := context.Background()

	out, err := mk("/", 100, time.Second).run(ctx, json.RawMessage(`{"a":1}`))
	require.NoError(t, err)
	assert.Equal(t, `{"ok":true}`, out)

	body = strings.Repeat("x", 101)
	_, err = mk("/", 100, time.Second).run(ctx, nil)
	assert.ErrorIs(t, err, ErrWebhookTooLarge)

	body, status = "nope", http.StatusBadGateway
	_, err = mk("/", 100, time.Second).run(ctx, nil)
	assert.ErrorContains(t, err, "HTTP 502")

	_, err = mk("/slow", 100, 50*time.Millisecond).run(ctx, nil)
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	// The breaker opens after consecutive failures and then fails fast.
	st := mk("/", 100, time.Second)
	for i := 0; i < webhookBreakerTrip; i++ {
		_, err = st.run(ctx, nil)
		require.Error(t, err)
	}
	_, err = st.run(ctx, nil)
	assert.True(t, errors.Is(err, gobreaker.ErrOpenState), "got %v", err)
}

func TestToolboxConfig(t *testing.T) {
	_, err := NewRegistry(config.Tools{Builtin: []string{"rm_rf"}}, clock.System{}, http.DefaultClient)
	assert.ErrorContains(t, err, "unknown tool")
	_, err = NewRegistry(config.Tools{Timezone: "Mars/Olympus"}, clock.System{}, http.DefaultClient)
	assert.Error(t, err)
	_, err = NewRegistry(config.Tools{Builtin: []string{"calculator", "calculator"}}, clock.System{}, http.DefaultClient)
	assert.ErrorContains(t, err, "duplicate")
	_, err = NewRegistry(config.Tools{Webhooks: []config.WebhookTool{{Name: "bad name", URL: "http://x"}}}, clock.System{}, http.DefaultClient)
	assert.Error(t, err)
	tb, err := NewRegistry(config.Tools{Builtin: []string{"get_current_time"}, Timezone: "Europe/Paris"}, clock.System{}, http.DefaultClient)
	require.NoError(t, err)
	out, err := tb.Call(context.Background(), sdk.ToolCall{Name: "get_current_time", Arguments: json.RawMessage(`{"timezone":"Asia/Tokyo"}`)})
	require.NoError(t, err)
	assert.Contains(t, out.Output, `"timezone":"Asia/Tokyo"`)
}
