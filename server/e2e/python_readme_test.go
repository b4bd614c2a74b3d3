package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readmeBlock is a fenced code block of sdk/python/README.md.
var readmeBlock = regexp.MustCompile("(?s)```(sh|python)\n(.*?)```") //nolint:gochecknoglobals // a compiled constant.

// Walk-through facts the test relies on, checked against the README.
const (
	readmeSaveAs      = "Save this as `$PLUGIN_DIR/shout_llm.py`"
	readmeServerStart = `./bin/parley --config configs/parley.yaml --config "$PLUGIN_DIR/shout.yaml"`
	readmeQuestion    = "hello parley"
	readmeAnswer      = "HELLO PARLEY!"
)

// TestPythonReadmeWalkthrough executes the "write your first Python
// plugin" walk-through of sdk/python/README.md verbatim: every sh block
// in order from the checkout (HOME is a temporary directory), the Python
// block saved where the README says; the apt-get prerequisite is what
// `make deps-test` installs and is not run, and the last block — starting
// the server on port 8080 — is done by the test with the same two
// configuration files on a free port. Then the plugin answers over /ws/voice.
func TestPythonReadmeWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs the server and plugins")
	}
	root := repoRoot(t)
	readme, err := os.ReadFile(filepath.Join(root, "sdk", "python", "README.md"))
	require.NoError(t, err)
	require.Contains(t, string(readme), readmeSaveAs)
	blocks := readmeBlock.FindAllStringSubmatch(string(readme), -1)
	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	sawPython, sawStart := false, false
	for _, b := range blocks {
		lang, body := b[1], b[2]
		switch {
		case lang == "python" && !sawPython:
			sawPython = true
			script.WriteString("cat > \"$PLUGIN_DIR/shout_llm.py\" <<'PARLEY_README_EOF'\n" + body + "PARLEY_README_EOF\n")
		case lang == "python":
			t.Fatalf("more than one Python block in the walk-through: %q", body)
		case strings.Contains(body, "apt-get install"):
			// The prerequisite: make deps-test installed these packages.
		case strings.TrimSpace(body) == readmeServerStart:
			sawStart = true
		case sawStart:
			// Blocks after the walk-through (the Examples section).
		default:
			script.WriteString(body)
		}
	}
	require.True(t, sawPython && sawStart, "the walk-through has its Python block and ends by starting the server")
	script.WriteString("echo \"PARLEY_README_PLUGIN_DIR=$PLUGIN_DIR\"\necho \"PARLEY_README_PYTHONPATH=$PYTHONPATH\"\n")

	home := t.TempDir()
	cmd := exec.CommandContext(t.Context(), "bash", "-c", script.String())
	cmd.Dir = root
	// The Go toolchain's settings of this test, so the nested `go test`
	// reuses its caches and module source instead of a cold HOME.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home}
	for _, k := range []string{"GOCACHE", "GOMODCACHE", "GOPATH", "GOFLAGS", "GOTOOLCHAIN", "GOPROXY", "GOSUMDB"} {
		v, err := exec.CommandContext(t.Context(), "go", "env", k).Output()
		require.NoError(t, err)
		cmd.Env = append(cmd.Env, k+"="+strings.TrimSpace(string(v)))
	}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "the walk-through's commands:\n%s\noutput:\n%s", script.String(), out)
	assert.Contains(t, string(out), "It is not meant to be run by hand", "step 3")
	assert.Contains(t, string(out), "exit status 1", "step 3")
	assert.Regexp(t, `(?m)^ok\s+github.com/parleyhq/parley/sdk/python`, string(out), "step 4: conformance")
	vars := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.HasPrefix(k, "PARLEY_README_") {
			vars[k] = v
		}
	}
	overlay, err := os.ReadFile(filepath.Join(vars["PARLEY_README_PLUGIN_DIR"], "shout.yaml"))
	require.NoError(t, err, "step 5 wrote the overlay")
	base, err := os.ReadFile(filepath.Join(root, "configs", "parley.yaml"))
	require.NoError(t, err)

	srv := startServerLayers(t, bins.get(t), []string{string(base), string(overlay)}, "PYTHONPATH="+vars["PARLEY_README_PYTHONPATH"])
	c := voiceConn(t.Context(), t, srv.addr)
	tr, _ := textTurn(t.Context(), t, c, readmeQuestion)
	noErrors(t, tr)
	assert.Equal(t, readmeAnswer, tr.text("response.text.delta"))
	assert.Positive(t, tr.audioFrames, "flite speaks the shouted answer")
	assert.Equal(t, "running", pluginStatus(t, srv.addr)["llm-shout"].State)
}
