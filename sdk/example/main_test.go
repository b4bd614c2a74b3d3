package main

import (
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

func TestConformanceInProcess(t *testing.T) {
	plugintest.RunTTS(t, &beeper{cfg: settings{WordMS: 150, PitchHz: 440}}, plugintest.Options{Settings: []byte(`{"word_ms": 100}`)})
}

func TestConformanceBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "tts-beep")
	out, err := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	plugintest.RunBinary(t, bin, plugintest.Options{Settings: []byte(`{"pitch_hz": 880}`)})
}
