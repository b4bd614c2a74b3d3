package main

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk/plugintest"
	"github.com/parleyhq/parley/sdk/providerhttp/providertest"
)

// conformanceFake serves the text fixture without keep-alive, so that no
// pooled idle connection outlives a stream and the suite's goroutine-leak
// checks see only what the stream itself started.
func conformanceFake(t *testing.T) *providertest.Server {
	t.Helper()
	events := sseEvents(t, "text.sse")
	f := providertest.NewServerClosingConns(t, providertest.SSEHandler(events...))
	f.DiscardRequests() // the suite makes several requests
	return f
}

func conformanceSettings(t *testing.T, baseURL string) json.RawMessage {
	t.Helper()
	raw, err := json.Marshal(map[string]any{"base_url": baseURL, "model": "claude-haiku-4-5", "max_tokens": 64})
	require.NoError(t, err)
	return raw
}

func TestConformanceInProcess(t *testing.T) {
	f := conformanceFake(t)
	client := &http.Client{}
	t.Cleanup(client.CloseIdleConnections)
	p := newPlugin(client, envMap(map[string]string{defaultAPIKeyEnv: testAPIKey}), nil)
	plugintest.RunLLM(t, p, plugintest.Options{Settings: conformanceSettings(t, f.URL)})
}

// TestConformanceBinary runs the suite against the built plugin. Its bad
// settings name an API key variable missing from the plugin's environment
// (the in-process run covers the unknown-field case), so the missing-key
// check is proven across the process boundary too.
func TestConformanceBinary(t *testing.T) {
	f := conformanceFake(t)
	bin := filepath.Join(t.TempDir(), pluginName)
	out, err := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	bad, err := json.Marshal(map[string]any{"base_url": f.URL, "api_key_env": "PARLEY_TEST_UNSET_KEY"})
	require.NoError(t, err)
	plugintest.RunBinary(t, bin, plugintest.Options{
		Settings:    conformanceSettings(t, f.URL),
		BadSettings: bad,
		Env:         []string{defaultAPIKeyEnv + "=" + testAPIKey},
	})
}
