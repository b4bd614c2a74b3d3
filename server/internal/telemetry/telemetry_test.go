package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
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
