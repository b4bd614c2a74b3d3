// Package python_test runs the Go conformance suite (sdk/plugintest) and
// host-side checks against the Python SDK's example plugins as real
// processes, started by go-plugin exactly as the Parley host starts them.
package python_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/parleyhq/parley/sdk/plugintest"
)

// TestConformance: sdk/plugintest.RunBinary against every Python example.
func TestConformance(t *testing.T) {
	requirePython(t)
	tests := []struct {
		name string
		path string
		opts plugintest.Options
	}{
		{"tts_tone", "examples/tts_tone.py", plugintest.Options{Settings: []byte(`{"word_ms": 100}`)}},
		{"llm_echo", "examples/llm_echo.py", plugintest.Options{Settings: []byte(`{"prefix": "Echo:"}`)}},
		{"stt_bursts", "examples/stt_bursts.py", plugintest.Options{Settings: []byte(`{"threshold_db": -30}`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, err := filepath.Abs(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			plugintest.RunBinary(t, path, tt.opts)
		})
	}
}

// requirePython skips nothing: the SDK's Debian packages are part of
// `make deps-test`, so a missing interpreter fails loudly.
func requirePython(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("%s: %v (make deps-test installs python3 and the SDK's packages)", python, err)
	}
}

const python = "/usr/bin/python3"

// TestConformanceOf runs the suite on a plugin of your own, as the
// walk-through in README.md does:
//
//	PARLEY_CONFORMANCE_PLUGIN=/path/to/my_plugin.py go test ./sdk/python -run TestConformanceOf -count=1 -v
//
// PARLEY_CONFORMANCE_SETTINGS is the valid settings object (default {}).
// The plugin gets no environment but PYTHONPATH (when set), as Parley
// passes a plugin only the variables its instance lists.
func TestConformanceOf(t *testing.T) {
	path := os.Getenv("PARLEY_CONFORMANCE_PLUGIN")
	if path == "" {
		t.Skip("set PARLEY_CONFORMANCE_PLUGIN to the plugin to check")
	}
	opts := plugintest.Options{}
	if s := os.Getenv("PARLEY_CONFORMANCE_SETTINGS"); s != "" {
		opts.Settings = []byte(s)
	}
	if pp, ok := os.LookupEnv("PYTHONPATH"); ok {
		opts.Env = []string{"PYTHONPATH=" + pp}
	}
	plugintest.RunBinary(t, path, opts)
}
