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
	e, err := NewEngine(slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	plugintest.RunLLM(t, e, plugintest.Options{})
}

func TestConformanceWithToolsAndBadRules(t *testing.T) {
	e, err := NewEngine(slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	plugintest.RunLLM(t, e, plugintest.Options{
		Settings:    []byte(`{"words_per_delta":2}`),
		BadSettings: []byte(`{"rules_file":"testdata/bad_regex.yaml"}`),
		Request: &sdk.GenerateRequest{
			Messages: []sdk.Message{{Role: sdk.RoleUser, Content: "what is seven times six"}},
			Tools:    parleyTools(),
		},
	})
}

func TestConformanceBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "llm-rules")
	out, err := exec.CommandContext(context.Background(), "go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	rules, err := filepath.Abs("rules.yaml")
	require.NoError(t, err)
	plugintest.RunBinary(t, bin, plugintest.Options{
		Settings: []byte(`{"rules_file":"` + rules + `","delta_delay_ms":5}`),
	})
}
