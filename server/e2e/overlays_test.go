package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// TestExampleOverlaysRun: every file in configs/examples/ runs as it is on
// top of configs/parley.yaml (--config twice), with dummy provider keys and
// a third, test-only overlay that points each provider instance at a local
// fake — merged into it by instance name. The server reaches /readyz and
// /v1/plugins lists the example's plugins running.
func TestExampleOverlaysRun(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs the server and plugins")
	}
	fake := httptest.NewServer(http.NotFoundHandler())
	defer fake.Close()
	root := repoRoot(t)
	base, err := os.ReadFile(filepath.Join(root, "configs", "parley.yaml"))
	require.NoError(t, err)
	examples, err := filepath.Glob(filepath.Join(root, "configs", "examples", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, examples)
	bin := bins.get(t)
	for _, path := range examples {
		t.Run(filepath.Base(path), func(t *testing.T) {
			example, err := os.ReadFile(path)
			require.NoError(t, err)
			var doc struct {
				Plugins struct {
					Instances []struct {
						Name   string         `yaml:"name"`
						Path   string         `yaml:"path"`
						Config map[string]any `yaml:"config"`
					} `yaml:"instances"`
				} `yaml:"plugins"`
			}
			require.NoError(t, yaml.Unmarshal(example, &doc))
			var fakes strings.Builder
			for _, in := range doc.Plugins.Instances {
				if strings.HasPrefix(in.Path, "./sdk/python/") {
					continue // the Python SDK's examples call no provider
				}
				url := fake.URL
				if strings.HasPrefix(in.Name, "stt-deepgram") {
					url = "ws" + strings.TrimPrefix(fake.URL, "http")
				} else if strings.HasPrefix(in.Name, "stt-openai") || strings.HasPrefix(in.Name, "tts-openai") || strings.HasPrefix(in.Name, "llm-openai") {
					url = fake.URL + "/v1"
				}
				if fakes.Len() == 0 {
					fakes.WriteString("plugins:\n  instances:\n")
				}
				fmt.Fprintf(&fakes, "    - {name: %s, config: {base_url: %q}}\n", in.Name, url)
			}
			srv := startServerLayers(t, bin, []string{string(base), string(example), fakes.String()},
				"ANTHROPIC_API_KEY=dummy", "OPENAI_API_KEY=dummy", "DEEPGRAM_API_KEY=dummy", "ELEVENLABS_API_KEY=dummy")
			status := pluginStatus(t, srv.addr)
			for _, in := range doc.Plugins.Instances {
				assert.Equal(t, "running", status[in.Name].State, "%s runs", in.Name)
			}
		})
	}
}
