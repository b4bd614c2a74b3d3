package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/parleyhq/parley/server/internal/config"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestNewLoggerFormats(t *testing.T) {
	var buf bytes.Buffer
	NewLogger(&buf, config.Log{Level: config.LevelWarn, Format: config.FormatAuto}).Info("hidden")
	assert.Empty(t, buf.String(), "info must be filtered at warn level")
	NewLogger(&buf, config.Log{Level: config.LevelInfo, Format: config.FormatAuto}).Info("hello", "k", 1)
	var m map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &m), "auto on a non-terminal is JSON: %s", buf.String())
	assert.Equal(t, "hello", m["msg"])
	buf.Reset()
	NewLogger(&buf, config.Log{Level: config.LevelDebug, Format: config.FormatText}).Debug("dbg")
	assert.Contains(t, buf.String(), "msg=dbg")
}

func TestMemoryGuard(t *testing.T) {
	reg := NewRegistry()
	logger := slog.New(slog.DiscardHandler)
	g := NewMemoryGuard(config.Telemetry{HeapLimitBytes: 1, MemorySampleInterval: time.Millisecond}, reg, logger)
	assert.True(t, g.Overloaded(), "a 1-byte limit is always exceeded")
	assert.Positive(t, g.HeapBytes())
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP parley_memory_overloaded 1 when the heap is above telemetry.heap_limit_bytes and new sessions are refused.
# TYPE parley_memory_overloaded gauge
parley_memory_overloaded 1
`), "parley_memory_overloaded"))

	reg2 := NewRegistry()
	off := NewMemoryGuard(config.Telemetry{MemorySampleInterval: time.Millisecond}, reg2, logger)
	assert.False(t, off.Overloaded(), "limit 0 disables the guard")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	cancel()
	require.NoError(t, <-done)
}

// TestLogsDurationsAsStrings: the JSON and text handlers both write
// durations as Go duration strings, also inside groups.
func TestLogsDurationsAsStrings(t *testing.T) {
	for _, format := range []config.LogFormat{config.FormatJSON, config.FormatText} {
		t.Run(string(format), func(t *testing.T) {
			var buf bytes.Buffer
			logger := NewLogger(&buf, config.Log{Level: config.LevelInfo, Format: format})
			logger.Info("shutting down", "drain_timeout", 10*time.Second,
				slog.Group("turn", slog.Duration("took", 1500*time.Microsecond)))
			out := buf.String()
			assert.NotContains(t, out, "10000000000")
			assert.NotContains(t, out, "1500000")
			if format == config.FormatJSON {
				var m struct {
					Drain string `json:"drain_timeout"`
					Turn  struct {
						Took string `json:"took"`
					} `json:"turn"`
				}
				require.NoError(t, json.Unmarshal(buf.Bytes(), &m), out)
				assert.Equal(t, "10s", m.Drain)
				assert.Equal(t, "1.5ms", m.Turn.Took)
				return
			}
			assert.Contains(t, out, "drain_timeout=10s")
			assert.Contains(t, out, "turn.took=1.5ms")
		})
	}
}

func TestLogsRedactSecretKeys(t *testing.T) {
	const secret = "sk-do-not-log-me"
	var buf bytes.Buffer
	logger := NewLogger(&buf, config.Log{Level: config.LevelInfo, Format: config.FormatJSON})
	logger.Info("request", "Authorization", "Bearer "+secret, "token", secret, "openai_api_key", secret,
		slog.Group("redis", slog.String("password", secret)), "max_tokens", 512, "path", "/ws/voice")
	out := buf.String()
	assert.NotContains(t, out, secret)
	assert.Equal(t, 4, strings.Count(out, Redacted), out)
	assert.Contains(t, out, `"max_tokens":512`, "keys that only mention tokens are kept")
	assert.Contains(t, out, `"path":"/ws/voice"`)
}

func TestServePprof(t *testing.T) {
	var lc net.ListenConfig
	ln, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- ServePprof(ctx, ln, slog.New(slog.DiscardHandler)) }()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+ln.Addr().String()+"/debug/pprof/goroutine?debug=1", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), "goroutine profile")
	cancel()
	require.NoError(t, <-done)
	http.DefaultClient.CloseIdleConnections()
}

// TestSetGCPercent: telemetry.gc_percent becomes the collector's target;
// a GOGC variable wins, and 0 leaves the runtime's own.
func TestSetGCPercent(t *testing.T) {
	prev := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prev) })
	current := func() int {
		p := debug.SetGCPercent(100)
		debug.SetGCPercent(p)
		return p
	}
	log := slog.New(slog.DiscardHandler)

	t.Setenv("GOGC", "")
	require.NoError(t, os.Unsetenv("GOGC"))
	assert.True(t, SetGCPercent(50, log))
	assert.Equal(t, 50, current())
	assert.False(t, SetGCPercent(0, log))
	assert.Equal(t, 50, current(), "0 changes nothing")

	t.Setenv("GOGC", "200")
	assert.False(t, SetGCPercent(75, log))
	assert.Equal(t, 50, current(), "GOGC wins")
}
