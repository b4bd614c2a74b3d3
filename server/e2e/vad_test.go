package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startupTimeout bounds a server start that must fail.
const startupTimeout = 30 * time.Second

// TestSileroBadFilesStopStartup: with configs/parley.yaml's vad.engine
// silero, a missing or corrupted model and a library that is not ONNX
// Runtime each stop the server at start-up with an error naming the key and
// the path; nothing is served.
func TestSileroBadFilesStopStartup(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs the server")
	}
	binDir := bins.get(t)
	root := repoRoot(t)
	shipped, err := os.ReadFile(filepath.Join(root, "configs", "parley.yaml"))
	require.NoError(t, err)
	const (
		modelRef   = "./bin/models/silero_vad_v5.onnx"
		runtimeRef = "./bin/models/libonnxruntime.so.1"
	)
	require.Contains(t, string(shipped), modelRef)
	require.Contains(t, string(shipped), runtimeRef)

	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.onnx")
	require.NoError(t, os.WriteFile(corrupt, []byte(strings.Repeat("\x08\x07\x12\x04junk", 4096)), 0o600))
	notLib := filepath.Join(dir, "libonnxruntime.so.1")
	require.NoError(t, os.WriteFile(notLib, []byte("not a shared library\n"), 0o600))
	missing := filepath.Join(dir, "missing.onnx")

	tests := []struct {
		name, ref, path, key string
	}{
		{"missing model", modelRef, missing, "vad.model_path"},
		{"corrupted model", modelRef, corrupt, "vad.model_path"},
		{"runtime not loadable", runtimeRef, notLib, "vad.onnxruntime_path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfgPath := filepath.Join(t.TempDir(), "parley.yaml")
			writeLayer(t, binDir, cfgPath, strings.ReplaceAll(string(shipped), tt.ref, tt.path))
			ctx, cancel := context.WithTimeout(t.Context(), startupTimeout)
			defer cancel()
			cmd := exec.CommandContext(ctx, filepath.Join(binDir, "parley"), "--config", cfgPath)
			cmd.Dir = root
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "PARLEY_HTTP__ADDR=127.0.0.1:0", "PARLEY_LOG__FORMAT=json"}, dummySecrets()...)
			out, err := cmd.CombinedOutput()
			require.Error(t, err, "the server must not start:\n%s", out)
			require.NoError(t, ctx.Err(), "the server exits by itself")
			assert.Contains(t, string(out), tt.key)
			assert.Contains(t, string(out), tt.path)
			assert.NotContains(t, string(out), "parley listening", "nothing is served")
		})
	}
}
