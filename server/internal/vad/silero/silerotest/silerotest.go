// Package silerotest finds the Silero VAD model and the ONNX Runtime
// library that `make models` fetches into ./bin/models, for tests.
package silerotest

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/parleyhq/parley/server/internal/config"
)

// EnvRequire makes a missing model or library fail the test instead of
// skipping it; `make test` sets it.
const EnvRequire = "E2E_REQUIRE_SILERO"

// The files under the repository root, as the Makefile puts them.
const (
	ModelFile   = "bin/models/silero_vad_v5.onnx"
	RuntimeFile = "bin/models/libonnxruntime.so.1"
)

// Paths returns the absolute paths of the model and the library. When
// either is missing the test fails if EnvRequire is 1 and is skipped
// otherwise, saying how to get them.
func Paths(t testing.TB) (model, runtime string) {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatalf("silerotest: %v", err)
	}
	model, runtime = filepath.Join(root, ModelFile), filepath.Join(root, RuntimeFile)
	for _, p := range []string{model, runtime} {
		if _, err := os.Stat(p); err != nil {
			if os.Getenv(EnvRequire) == "1" {
				t.Fatalf("silerotest: %s missing (%v); run make models", p, err)
			}
			t.Skipf("silerotest: %s missing; run make models (make test sets %s=1 and fails instead)", p, EnvRequire)
		}
	}
	return model, runtime
}

// Config is config.Default().VAD with engine silero and the fetched files.
func Config(t testing.TB) config.VAD {
	t.Helper()
	cfg := config.Default().VAD
	cfg.Engine = config.VADSilero
	cfg.ModelPath, cfg.ONNXRuntimePath = Paths(t)
	return cfg
}

// repoRoot is the nearest folder above the working directory with go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
