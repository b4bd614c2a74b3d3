package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// Timeouts of the server's life cycle in the test.
const (
	buildTimeout    = 5 * time.Minute
	listenTimeout   = 30 * time.Second
	readyTimeout    = 60 * time.Second
	readyPoll       = 100 * time.Millisecond
	shutdownTimeout = 15 * time.Second
	logTailLines    = 80
)

// offlinePlugins are the plugins the offline default config uses, by
// instance name (= folder under plugins/).
func offlinePlugins() []string { return []string{"stt-pocketsphinx", "llm-rules", "tts-flite"} }

// repoRoot is the module root (two levels up from web/e2e).
func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	require.NoError(t, err)
	root := filepath.Clean(filepath.Join(wd, "..", ".."))
	_, err = os.Stat(filepath.Join(root, "go.mod"))
	require.NoError(t, err, "module root not found from %s", wd)
	return root
}

// buildBinaries builds the server and the offline plugins into dir (one go
// build, so the links run in parallel) and returns the directory.
func buildBinaries(t *testing.T, root, dir string) {
	t.Helper()
	pkgs := []string{"./server/cmd/parley"}
	for _, p := range offlinePlugins() {
		pkgs = append(pkgs, "./plugins/"+p)
	}
	ctx, cancel := context.WithTimeout(t.Context(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", append([]string{"build", "-o", dir + string(filepath.Separator)}, pkgs...)...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
}

// writeConfig derives the test config from configs/parley.yaml: a random
// loopback port, JSON logs and plugin paths pointing at the built binaries.
func writeConfig(t *testing.T, root, binDir, path string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "configs", "parley.yaml"))
	require.NoError(t, err)
	var cfg map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &cfg))

	section := func(name string) map[string]any {
		m, ok := cfg[name].(map[string]any)
		if !ok {
			m = map[string]any{}
			cfg[name] = m
		}
		return m
	}
	section("http")["addr"] = "127.0.0.1:0"
	section("log")["format"] = "json"
	section("log")["level"] = "info"
	instances, ok := section("plugins")["instances"].([]any)
	require.True(t, ok, "configs/parley.yaml: plugins.instances is not a list")
	seen := map[string]bool{}
	for _, inst := range instances {
		m, ok := inst.(map[string]any)
		require.True(t, ok)
		name, _ := m["name"].(string)
		m["path"] = filepath.Join(binDir, name)
		seen[name] = true
	}
	for _, p := range offlinePlugins() {
		require.True(t, seen[p], "configs/parley.yaml no longer uses plugin %s", p)
	}
	// The Silero VAD files (make models) are relative to the repository
	// root; the server runs in the config's folder.
	vad := section("vad")
	for _, k := range []string{"model_path", "onnxruntime_path"} {
		if p, ok := vad[k].(string); ok && !filepath.IsAbs(p) {
			vad[k] = filepath.Join(root, p)
		}
	}
	out, err := yaml.Marshal(cfg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, out, 0o600))
}

// serverLog keeps the server's log lines for failure reports.
type serverLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *serverLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, s)
}

// dummySecrets are provider keys the test server gets in its environment;
// none may appear in its log.
func dummySecrets() []string {
	return []string{
		"ANTHROPIC_API_KEY=sk-ant-web-e2e-DUMMY-8d41",
		"OPENAI_API_KEY=sk-proj-web-e2e-DUMMY-02bf",
		"ELEVENLABS_API_KEY=web-e2e-DUMMY-elevenlabs-6a1e",
		"DEEPGRAM_API_KEY=web-e2e-DUMMY-deepgram-c93d",
	}
}

// requireNoSecrets fails for any log line holding a dummy secret or an
// Authorization value.
func (l *serverLog) requireNoSecrets(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, line := range l.lines {
		for _, kv := range dummySecrets() {
			_, v, _ := strings.Cut(kv, "=")
			if strings.Contains(line, v) {
				t.Errorf("log line %d leaks a secret: %s", i+1, line)
			}
		}
		if strings.Contains(strings.ToLower(line), "bearer ") {
			t.Errorf("log line %d holds an Authorization value: %s", i+1, line)
		}
	}
}

// tail returns the last n lines.
func (l *serverLog) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	from := max(0, len(l.lines)-n)
	return strings.Join(l.lines[from:], "\n")
}

// server is a running parley binary.
type server struct {
	addr string
	log  *serverLog
}

// startServer runs bin with the config at cfgPath, waits for its
// "parley listening" log line and for /readyz, and stops it (SIGTERM) when
// the test ends.
func startServer(t *testing.T, bin, cfgPath string) *server {
	t.Helper()
	cmd := exec.Command(bin, "--config", cfgPath)
	cmd.Dir = filepath.Dir(cfgPath)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + filepath.Dir(cfgPath)}, dummySecrets()...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	cmd.Stdout = io.Discard
	require.NoError(t, cmd.Start())

	logs := &serverLog{}
	listening := make(chan string, 1)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			line := sc.Text()
			logs.add(line)
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "parley listening" {
				select {
				case listening <- rec.Addr:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		exited := make(chan error, 1)
		go func() {
			<-readerDone // Wait must not run before the pipe is drained
			exited <- cmd.Wait()
		}()
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("parley did not stop cleanly: %v\n%s", err, logs.tail(logTailLines))
			}
		case <-time.After(shutdownTimeout):
			_ = cmd.Process.Kill()
			err := <-exited
			t.Errorf("parley did not stop within %s after SIGTERM (killed: %v)", shutdownTimeout, err)
		}
		logs.requireNoSecrets(t)
	})

	var addr string
	select {
	case addr = <-listening:
	case <-readerDone:
		t.Fatalf("parley exited before listening:\n%s", logs.tail(logTailLines))
	case <-time.After(listenTimeout):
		t.Fatalf("parley did not log %q within %s:\n%s", "parley listening", listenTimeout, logs.tail(logTailLines))
	}
	s := &server{addr: addr, log: logs}
	require.Eventually(t, func() bool { return s.get(t.Context(), "/readyz") == nil },
		readyTimeout, readyPoll, "parley not ready:\n%s", logs.tail(logTailLines))
	return s
}

// url returns the server's URL for path.
func (s *server) url(path string) string { return "http://" + s.addr + path }

// get fetches path and fails on a non-200 answer.
func (s *server) get(ctx context.Context, path string) error {
	_, err := s.fetch(ctx, path)
	return err
}

// errStatus is a non-200 HTTP answer.
var errStatus = errors.New("unexpected HTTP status")

// fetch returns the body of path when the server answers 200.
func (s *server) fetch(ctx context.Context, path string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url(path), nil)
	if err != nil {
		return "", fmt.Errorf("request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%w: GET %s: %d", errStatus, path, resp.StatusCode)
	}
	return string(body), nil
}
