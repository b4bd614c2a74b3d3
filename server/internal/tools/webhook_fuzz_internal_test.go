package tools

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/config"
)

// FuzzWebhookResponse: whatever a webhook answers (status, body), the tool
// returns the body verbatim for a 2xx within the size limit and an error
// otherwise, and never panics.
func FuzzWebhookResponse(f *testing.F) {
	const limit = 64
	var mu sync.Mutex
	var status int
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	f.Cleanup(srv.Close)
	statuses := []int{200, 201, 400, 404, 429, 500, 502, 503}
	f.Add(uint8(0), []byte(`{"ok":true}`))
	f.Add(uint8(5), []byte(`{"error":"boom"}`))
	f.Add(uint8(0), make([]byte, limit+1))
	f.Fuzz(func(t *testing.T, pick uint8, b []byte) {
		code := statuses[int(pick)%len(statuses)]
		mu.Lock()
		status, body = code, b
		mu.Unlock()
		st, err := webhookTool(config.WebhookTool{Name: "hook", URL: srv.URL, MaxResponseBytes: limit, Timeout: time.Second}, srv.Client())
		require.NoError(t, err)
		out, err := st.run(context.Background(), json.RawMessage(`{}`))
		switch {
		case len(b) > limit:
			assert.True(t, errors.Is(err, ErrWebhookTooLarge), "got %v", err)
		case code >= http.StatusMultipleChoices:
			assert.Error(t, err)
		default:
			require.NoError(t, err)
			assert.Equal(t, string(b), out)
		}
	})
}
