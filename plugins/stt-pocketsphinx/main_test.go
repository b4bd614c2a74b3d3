package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/parleyhq/parley/sdk/plugintest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestBinaryConformance builds the plugin binary and runs Parley's
// conformance suite against it, launched through go-plugin the way the
// host launches it.
func TestBinaryConformance(t *testing.T) {
	goTool, err := exec.LookPath("go")
	require.NoError(t, err, "the go tool builds the plugin binary")
	bin := filepath.Join(t.TempDir(), "stt-pocketsphinx")
	out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	plugintest.RunBinary(t, bin, plugintest.Options{
		Settings: json.RawMessage(`{"pool_size": 1, "acquire_wait": "5s"}`),
	})
}
