package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	yaml "go.yaml.in/yaml/v3"
)

// TestExampleConfigIsAccepted checks that every instance of this plugin in
// the shipped example configuration passes Configure's validation.
func TestExampleConfigIsAccepted(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "configs", "examples", "anthropic.yaml"))
	require.NoError(t, err)
	var doc struct {
		Plugins struct {
			Instances []struct {
				Name   string         `yaml:"name"`
				Path   string         `yaml:"path"`
				Env    []string       `yaml:"env"`
				Config map[string]any `yaml:"config"`
			} `yaml:"instances"`
		} `yaml:"plugins"`
		Pipeline struct {
			LLM []string `yaml:"llm"`
		} `yaml:"pipeline"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &doc))
	found := 0
	for _, inst := range doc.Plugins.Instances {
		if !strings.HasSuffix(inst.Path, "/"+pluginName) {
			continue
		}
		found++
		t.Run(inst.Name, func(t *testing.T) {
			env := map[string]string{}
			for _, name := range inst.Env {
				env[name] = "example-key"
			}
			settings, err := json.Marshal(inst.Config)
			require.NoError(t, err)
			_, err = parseSettings(settings, envMap(env))
			require.NoError(t, err)
			assert.Contains(t, doc.Pipeline.LLM, inst.Name, "the instance is used by the llm pipeline")
		})
	}
	assert.Positive(t, found, "no instance of %s in %s", pluginName, "anthropic.yaml")
}
