package pluginlog

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewWritesDurationsAsStrings(t *testing.T) {
	var buf bytes.Buffer
	logger := New(&buf, slog.LevelInfo)
	logger.Debug("hidden")
	logger.Info("decoders warm", "took", 883*time.Millisecond, "pool_size", 2)
	var rec map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &rec), buf.String())
	assert.Equal(t, "INFO", rec["level"])
	assert.Equal(t, "decoders warm", rec["msg"])
	assert.Equal(t, "883ms", rec["took"])
	assert.Equal(t, 2.0, rec["pool_size"])
}
