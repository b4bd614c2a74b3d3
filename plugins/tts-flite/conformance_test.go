package main

import (
	"context"
	"log/slog"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/sdk/plugintest"
)

func TestConformanceInProcess(t *testing.T) {
	plugintest.RunTTS(t, NewEngine(slog.New(slog.DiscardHandler)), plugintest.Options{
		Settings:    []byte(`{"voice":"kal16","speed":1.1}`),
		BadSettings: []byte(`{"voice":"nobody"}`),
	})
}

func TestConformanceDefaultBadSettings(t *testing.T) {
	plugintest.RunTTS(t, NewEngine(slog.New(slog.DiscardHandler)), plugintest.Options{})
}

func TestConformanceBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "tts-flite")
	build := exec.CommandContext(context.Background(), "go", "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	plugintest.RunBinary(t, bin, plugintest.Options{
		Settings:  []byte(`{"voice":"slt"}`),
		TTSConfig: &sdk.TTSConfig{Voice: "awb", SampleRate: 24000, Encoding: sdk.EncodingPCM16LE},
	})
}
