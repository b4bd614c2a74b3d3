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

func conformanceSettings(t *testing.T, baseURL string) json.RawMessage {
	t.Helper()
	raw, err := json.Marshal(map[string]any{"base_url": baseURL})
	require.NoError(t, err)
	return raw
}

// spareConnTimeout closes fake-server connections that never carry a request.
const spareConnTimeout = 200 * time.Millisecond

// The fake answers Finalize and CloseStream like Deepgram: a from_finalize
// result, then Metadata and a normal close.
func conformanceFake(t *testing.T) string {
	t.Helper()
	f := &fakeDeepgram{texts: make(chan string, 64)}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(f.handle))
	// A connection the plugin dialled for a handshake that was cancelled
	// meanwhile carries no request; close it soon so that it does not count
	// as a leak.
	srv.Config.ReadHeaderTimeout = spareConnTimeout
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestConformanceInProcess(t *testing.T) {
	url := conformanceFake(t)
	p := newPlugin(slog.New(slog.DiscardHandler), env(map[string]string{defaultAPIKeyEnv: testKey}))
	plugintest.RunSTT(t, p, plugintest.Options{Settings: conformanceSettings(t, url)})
}

func TestConformanceBinary(t *testing.T) {
	url := conformanceFake(t)
	bin := filepath.Join(t.TempDir(), pluginName)
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	plugintest.RunBinary(t, bin, plugintest.Options{
		Settings: conformanceSettings(t, url),
		Env:      []string{defaultAPIKeyEnv + "=" + testKey},
	})
}
