package main

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk/plugintest"
)

// spareConnTimeout closes fake-server connections that never carry a request.
const spareConnTimeout = 200 * time.Millisecond

// conformanceFake serves the fake ElevenLabs endpoint without HTTP
// keep-alive, so that no pooled idle connection outlives a stream and the
// suite's goroutine-leak checks see only what the stream itself started.
func conformanceFake(t *testing.T) *httptest.Server {
	t.Helper()
	f := &fakeElevenLabs{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(f.handler))
	srv.Config.SetKeepAlivesEnabled(false)
	// A connection the client dialled for a request that was cancelled
	// meanwhile carries no request; close it soon so that it does not
	// count as a leak.
	srv.Config.ReadHeaderTimeout = spareConnTimeout
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func conformanceSettings(t *testing.T, baseURL string) json.RawMessage {
	t.Helper()
	raw, err := json.Marshal(map[string]any{"voice_id": "voice-1", "base_url": baseURL})
	require.NoError(t, err)
	return raw
}

func TestConformanceInProcess(t *testing.T) {
	srv := conformanceFake(t)
	p := newPlugin(slog.New(slog.DiscardHandler), env(map[string]string{defaultAPIKeyEnv: testKey}))
	plugintest.RunTTS(t, p, plugintest.Options{Settings: conformanceSettings(t, srv.URL)})
}

func TestConformanceBinary(t *testing.T) {
	srv := conformanceFake(t)
	bin := filepath.Join(t.TempDir(), pluginName)
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	plugintest.RunBinary(t, bin, plugintest.Options{
		Settings: conformanceSettings(t, srv.URL),
		Env:      []string{defaultAPIKeyEnv + "=" + testKey},
	})
}
