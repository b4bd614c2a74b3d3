package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Bounds on waiting for processes; safety nets, not timing assertions.
const (
	startLimit = 60 * time.Second
	stopLimit  = 20 * time.Second
)

// repoRoot is the module root, two levels up from this package.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	return root
}

// binDirEnv names a directory of prebuilt binaries (parley and
// plugins/<name>) that the tests use instead of building the tree: make
// soak runs the same soak against an older build with it.
const binDirEnv = "E2E_BIN_DIR"

// buildOnce builds parley and the offline plugins once per test binary.
type builds struct {
	once sync.Once
	dir  string
	// built says dir is the tests' own (TestMain removes it), not binDirEnv.
	built bool
	err   error
}

func (b *builds) get(t *testing.T) string {
	t.Helper()
	b.once.Do(func() {
		if dir := os.Getenv(binDirEnv); dir != "" {
			b.dir = dir
			return
		}
		dir, err := os.MkdirTemp("", "parley-e2e-bin-")
		if err != nil {
			b.err = err
			return
		}
		b.dir, b.built = dir, true
		root := repoRoot(t)
		targets := map[string]string{
			"parley":                   "./server/cmd/parley",
			"plugins/stt-pocketsphinx": "./plugins/stt-pocketsphinx",
			"plugins/llm-rules":        "./plugins/llm-rules",
			"plugins/tts-flite":        "./plugins/tts-flite",
			"plugins/llm-anthropic":    "./plugins/llm-anthropic",
			"plugins/llm-openai":       "./plugins/llm-openai",
			"plugins/stt-deepgram":     "./plugins/stt-deepgram",
			"plugins/stt-openai":       "./plugins/stt-openai",
			"plugins/tts-elevenlabs":   "./plugins/tts-elevenlabs",
			"plugins/tts-openai":       "./plugins/tts-openai",
			"plugins/simplugin":        "./server/e2e/testdata/simplugin",
		}
		for out, pkg := range targets {
			cmd := exec.Command("go", "build", "-o", filepath.Join(dir, out), pkg)
			cmd.Dir = root
			if msg, err := cmd.CombinedOutput(); err != nil {
				b.err = fmt.Errorf("go build %s: %w\n%s", pkg, err, msg)
				return
			}
		}
	})
	require.NoError(t, b.err)
	return b.dir
}

// server is a running parley process.
type server struct {
	addr string
	cmd  *exec.Cmd
	logs *logTail
	// exited is closed when the process's log pipe is drained (it exited).
	exited chan struct{}
	// layers are the config files it started from, lowest first (a test
	// may rewrite one and reload).
	layers []string
	// binDir holds the binaries it runs (for rewriting layers).
	binDir string
	// stop sends SIGTERM (SIGKILL after stopLimit) and waits for the exit;
	// later calls only wait. It returns the process's exit error.
	stop func() error
}

// dummySecrets are provider keys every e2e server gets in its environment
// (plugins see them only if their env: lists them). None may ever appear
// in a log line.
func dummySecrets() []string {
	return []string{
		"ANTHROPIC_API_KEY=" + fakeAnthropicKey,
		"OPENAI_API_KEY=sk-proj-e2e-DUMMY-openai-7b2d3e",
		"ELEVENLABS_API_KEY=" + fakeElevenLabsKey,
		"DEEPGRAM_API_KEY=" + fakeDeepgramKey,
		"PARLEY_REDIS__PASSWORD=e2e-DUMMY-redis-password-55e1",
	}
}

// secretValues are the values of env entries that hold secrets: provider
// keys, client API keys, passwords and tokens.
func secretValues(env []string) []string {
	var out []string
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || v == "" {
			continue
		}
		for _, suffix := range []string{"_API_KEY", "_API_KEYS", "PASSWORD", "TOKEN", "SECRET"} {
			if strings.HasSuffix(k, suffix) {
				out = append(out, strings.Split(v, ",")...)
				break
			}
		}
	}
	return out
}

// assertNoSecrets fails for every log line that holds one of secrets or an
// Authorization header value.
func assertNoSecrets(t *testing.T, logs *logTail, secrets []string) {
	t.Helper()
	logs.mu.Lock()
	defer logs.mu.Unlock()
	for i, line := range logs.lines {
		for _, s := range secrets {
			assert.NotContains(t, line, s, "log line %d leaks a secret", i+1)
		}
		assert.NotContains(t, strings.ToLower(line), "bearer ", "log line %d holds an Authorization value: %s", i+1, line)
	}
}

// logTail keeps the process's log lines for failure messages.
type logTail struct {
	mu    sync.Mutex
	lines []string
}

func (l *logTail) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, s)
}

func (l *logTail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// startServer runs bin/parley on the shipped offline config, with plugin
// paths pointing at the test's builds and a free loopback port, and waits
// until /readyz is 200.
func startServer(t *testing.T, binDir string, extraEnv ...string) *server {
	t.Helper()
	shipped, err := os.ReadFile(filepath.Join(repoRoot(t), "configs", "parley.yaml"))
	require.NoError(t, err)
	return startServerWith(t, binDir, string(shipped), extraEnv...)
}

// startServerWith is startServer with a configuration of the test's own;
// "./bin/plugins/" in it points at the test's builds.
func startServerWith(t *testing.T, binDir, cfgYAML string, extraEnv ...string) *server {
	t.Helper()
	return startServerProbe(t, binDir, []string{cfgYAML}, "http", http.DefaultClient, extraEnv...)
}

// startServerLayers starts the server on several configuration files,
// lowest first (--config repeated).
func startServerLayers(t *testing.T, binDir string, layers []string, extraEnv ...string) *server {
	t.Helper()
	return startServerProbe(t, binDir, layers, "http", http.DefaultClient, extraEnv...)
}

// writeLayer writes a config layer to path with ./bin/plugins/ pointing
// at binDir's plugins.
func writeLayer(t *testing.T, binDir, path, layer string) {
	t.Helper()
	cfg := strings.ReplaceAll(layer, "./bin/plugins/", filepath.Join(binDir, "plugins")+"/")
	cfg = strings.ReplaceAll(cfg, "./bin/parley", filepath.Join(binDir, "parley"))
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
}

// startServerProbe starts the server on configuration layers (lowest
// first, --config repeated), probing /readyz with scheme and client
// (https and a client trusting the test's CA for a TLS server).
func startServerProbe(t *testing.T, binDir string, layers []string, scheme string, client *http.Client, extraEnv ...string) *server {
	t.Helper()
	root := repoRoot(t)
	dir := t.TempDir()
	var args, paths []string
	for i, layer := range layers {
		cfgPath := filepath.Join(dir, fmt.Sprintf("layer%d.yaml", i))
		writeLayer(t, binDir, cfgPath, layer)
		args = append(args, "--config", cfgPath)
		paths = append(paths, cfgPath)
	}

	cmd := exec.Command(filepath.Join(binDir, "parley"), args...)
	cmd.Dir = root
	// Its own process group, as under a shell: a test may signal the group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	env := append([]string{
		"PATH=" + os.Getenv("PATH"),
		"PARLEY_HTTP__ADDR=127.0.0.1:0",
		"PARLEY_LOG__FORMAT=json",
		"PARLEY_LOG__LEVEL=debug",
	}, dummySecrets()...)
	// Later entries win (os/exec keeps the last value of a key).
	cmd.Env = append(env, extraEnv...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	s := &server{cmd: cmd, logs: &logTail{}, exited: exited, layers: paths, binDir: binDir}
	addrCh := make(chan string, 1)
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			s.logs.add(line)
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "parley listening" {
				addrCh <- rec.Addr
			}
		}
	}()
	var stopOnce sync.Once
	var waitErr error
	s.stop = func() error {
		stopOnce.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(stopLimit):
				_ = cmd.Process.Kill()
			}
			waitErr = cmd.Wait()
		})
		return waitErr
	}
	t.Cleanup(func() {
		_ = s.stop()
		// Every log line of every e2e server, debug included, is scanned.
		assertNoSecrets(t, s.logs, secretValues(cmd.Env))
		if t.Failed() {
			t.Logf("parley log:\n%s", s.logs)
		}
	})
	select {
	case s.addr = <-addrCh:
	case <-exited:
		t.Fatalf("parley exited before listening:\n%s", s.logs)
	case <-time.After(startLimit):
		t.Fatalf("parley did not listen:\n%s", s.logs)
	}
	require.Eventually(t, func() bool {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, scheme+"://"+s.addr+"/readyz", nil)
		if err != nil {
			return false
		}
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, startLimit, 50*time.Millisecond, "readyz never became 200:\n%s", s.logs)
	return s
}
