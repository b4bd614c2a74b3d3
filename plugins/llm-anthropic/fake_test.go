package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/sdk/providerhttp/providertest"
)

const testAPIKey = "sk-ant-test-key"

// sseEvents returns the events of a fixture in testdata.
func sseEvents(t testing.TB, fixture string) []string {
	t.Helper()
	return providertest.SSEFixture(t, filepath.Join("testdata", fixture))
}

// jsonValid reports whether raw is valid JSON.
func jsonValid(raw json.RawMessage) bool { return json.Valid(raw) }

// event formats one named SSE event.
func event(name, data string) string {
	return "event: " + name + "\ndata: " + data + "\n\n"
}

// envMap is a getenv over a fixed map.
func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// newTestPlugin returns a plugin configured against baseURL with extra
// settings merged over base_url.
func newTestPlugin(t testing.TB, baseURL string, extra map[string]any) *plugin {
	t.Helper()
	client := &http.Client{}
	t.Cleanup(client.CloseIdleConnections)
	p := newPlugin(client, envMap(map[string]string{defaultAPIKeyEnv: testAPIKey}), slog.New(slog.DiscardHandler))
	settings := map[string]any{"base_url": baseURL}
	for k, v := range extra {
		settings[k] = v
	}
	raw, err := json.Marshal(settings)
	require.NoError(t, err)
	require.NoError(t, p.Configure(context.Background(), raw))
	return p
}

// text joins the text deltas of events.
func text(evs []sdk.GenerateEvent) string {
	var b bytes.Buffer
	for _, ev := range evs {
		b.WriteString(ev.TextDelta)
	}
	return b.String()
}

// sdkError returns err as an *sdk.Error or fails the test.
func sdkError(t *testing.T, err error) *sdk.Error {
	t.Helper()
	var e *sdk.Error
	require.True(t, errors.As(err, &e), "want *sdk.Error, got %T: %v", err, err)
	return e
}
