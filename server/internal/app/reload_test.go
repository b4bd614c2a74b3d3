package app

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/config"
)

// TestRestartKeys: only changes a reload does not apply are reported, by
// their config key; the plugin sections are applied, not reported.
func TestRestartKeys(t *testing.T) {
	a := config.Default()
	b := config.Default()
	assert.Empty(t, restartKeys(&a, &b))

	b.HTTP.Addr = "127.0.0.1:9999"
	b.HTTP.TLS.CertFile = "cert.pem"
	b.Session.MaxSessions = 7
	b.Auth.APIKeys = []string{"k"}
	b.Resilience.STTRecoverTimeout = time.Second
	b.Plugins.Reload.Watch = true
	// Applied by a reload: not reported.
	b.Plugins.Instances = []config.Instance{{Name: "x"}}
	b.Pipeline.TTS = []string{"x"}
	b.Resilience.Retry.MaxAttempts = 9
	b.Resilience.FirstOutput.LLM = time.Second
	b.Plugins.Reload.DrainTimeout = time.Second
	assert.Equal(t, []string{
		"auth.api_keys", "http.addr", "http.tls.cert_file", "plugins.reload.watch",
		"resilience.stt_recover_timeout", "session.max_sessions",
	}, restartKeys(&a, &b))
	assert.False(t, samePlugins(&a, &b))
	assert.True(t, samePlugins(&a, &a))
}

// TestWatchFilesReloads: with plugins.reload.watch, writing a config file
// reloads (debounced: a burst of writes is one reload), and every later
// change reloads again.
func TestWatchFilesReloads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "parley.yaml")
	require.NoError(t, os.WriteFile(path, []byte("log: {level: info}\n"), 0o600))
	var loads atomic.Int32
	r, err := newReloader(&config.Config{}, []string{path}, nil, nil, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	r.load = func(...string) (*config.Config, error) {
		loads.Add(1)
		return nil, errors.New("rejected by the test")
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- watchFiles(ctx, []string{path}, 50*time.Millisecond, r, slog.New(slog.DiscardHandler)) }()
	// The watch starts asynchronously: write until the first reload.
	require.Eventually(t, func() bool {
		require.NoError(t, os.WriteFile(path, []byte("log: {level: debug}\n"), 0o600))
		return loads.Load() > 0
	}, 10*time.Second, 200*time.Millisecond)
	first := loads.Load()
	require.NoError(t, os.WriteFile(path, []byte("log: {level: warn}\n"), 0o600))
	require.Eventually(t, func() bool { return loads.Load() > first }, 10*time.Second, 10*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	// Reloads run inside the watch loop, so none is in flight now.
	assert.InDelta(t, float64(loads.Load()), testutil.ToFloat64(r.results.WithLabelValues(reloadInvalid)), 0,
		"every rejected reload is counted")
}
