package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// waitLimit bounds how long the test waits for the process; it is a
// safety net, not a timing assertion.
const waitLimit = 30 * time.Second

func TestConfigCommands(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	require.NoError(t, os.WriteFile(good, []byte("auth:\n  api_keys: [topsecret]\nlog:\n  level: debug\n"), 0o600))
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("http:\n  addr: 127.0.0.1:70000\nlog:\n  levle: x\n"), 0o600))

	var out, errOut bytes.Buffer
	assert.Equal(t, exitOK, run([]string{"config", "check", good}, &out, &errOut), errOut.String())
	assert.Contains(t, out.String(), "ok")

	out.Reset()
	errOut.Reset()
	assert.Equal(t, exitError, run([]string{"config", "check", bad}, &out, &errOut))
	assert.Contains(t, errOut.String(), "log.levle")

	out.Reset()
	assert.Equal(t, exitOK, run([]string{"config", "print", "--config", good}, &out, &errOut), errOut.String())
	assert.Contains(t, out.String(), "level: debug")
	assert.NotContains(t, out.String(), "topsecret")

	assert.Equal(t, exitUsage, run([]string{"config", "frobnicate"}, &out, &errOut))

	// Layered: the overlay wins key by key, in check and print alike.
	overlay := filepath.Join(dir, "overlay.yaml")
	require.NoError(t, os.WriteFile(overlay, []byte("log:\n  level: warn\n"), 0o600))
	out.Reset()
	assert.Equal(t, exitOK, run([]string{"config", "check", good, overlay}, &out, &errOut), errOut.String())
	assert.Contains(t, out.String(), "good.yaml + "+overlay+": ok")
	out.Reset()
	assert.Equal(t, exitOK, run([]string{"config", "print", "--config", good, "--config", overlay}, &out, &errOut), errOut.String())
	assert.Contains(t, out.String(), "level: warn")
	assert.NotContains(t, out.String(), "topsecret", "the base file's keys stay, redacted")
	out.Reset()
	errOut.Reset()
	assert.Equal(t, exitError, run([]string{"config", "check", good, bad}, &out, &errOut))
	assert.Contains(t, errOut.String(), "bad.yaml", "the error names the file")
}

// TestRefusesOpenServer: the reproduction — listening on every
// interface without API keys — is refused before anything listens, and
// the message says what to set.
func TestRefusesOpenServer(t *testing.T) {
	cfgPath := filepath.Join(t.TempDir(), "open.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte("http:\n  addr: 0.0.0.0:18999\n"), 0o600))
	var out, errOut bytes.Buffer
	assert.Equal(t, exitError, run([]string{"--config", cfgPath}, &out, &errOut))
	for _, want := range []string{"http.addr", "auth.api_keys", "PARLEY_AUTH__API_KEYS", "auth.allow_anonymous: true"} {
		assert.Contains(t, errOut.String(), want)
	}
	errOut.Reset()
	assert.Equal(t, exitError, run([]string{"config", "check", cfgPath}, &out, &errOut), "config check refuses it too")
	assert.Contains(t, errOut.String(), "auth.allow_anonymous")
}

// TestBinaryServesAndStopsOnSIGTERM builds ./bin-like parley, starts it,
// asks /healthz and checks that SIGTERM makes it exit 0.
func TestBinaryServesAndStopsOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "parley")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run())

	cfgPath := filepath.Join(dir, "parley.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte("http:\n  addr: 127.0.0.1:0\n  drain_timeout: 5s\nlog:\n  format: json\n"), 0o600))
	cmd := exec.Command(bin, "--config", cfgPath)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	addr := ""
	deadline := time.After(waitLimit)
	for addr == "" {
		select {
		case l, ok := <-lines:
			require.True(t, ok, "parley exited before listening")
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal([]byte(l), &rec) == nil && rec.Msg == "parley listening" {
				addr = rec.Addr
			}
		case <-deadline:
			t.Fatal("parley did not start listening")
		}
	}

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/healthz", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), "ok")

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	var rest strings.Builder
	for l := range lines {
		rest.WriteString(l + "\n")
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	select {
	case err := <-waitErr:
		require.NoError(t, err, "SIGTERM must exit 0; log:\n%s", rest.String())
	case <-time.After(waitLimit):
		t.Fatal("parley did not exit after SIGTERM")
	}
	assert.Contains(t, rest.String(), "stopped cleanly")
}

// TestLoadtestCommand: flags are checked, a remote target is refused, and
// a run against a closed port reports its failed sessions in the table and
// as one JSON object on the last line, with a failing exit code.
func TestLoadtestCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	assert.Equal(t, exitUsage, run([]string{"loadtest", "--sessions", "0"}, &out, &errOut))
	assert.Contains(t, errOut.String(), "--sessions")
	errOut.Reset()
	assert.Equal(t, exitUsage, run([]string{"loadtest", "--pid", "x"}, &out, &errOut))
	assert.Equal(t, exitUsage, run([]string{"loadtest", "--transport", "sip"}, &out, &errOut))
	assert.Equal(t, exitUsage, run([]string{"loadtest", "--wav", filepath.Join(t.TempDir(), "none.wav")}, &out, &errOut))
	errOut.Reset()
	assert.Equal(t, exitError, run([]string{"loadtest", "--url", "http://192.0.2.10:8080"}, &out, &errOut))
	assert.Contains(t, errOut.String(), "not a loopback address")

	var lc net.ListenConfig
	ln, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	out.Reset()
	errOut.Reset()
	code := run([]string{"loadtest", "--url", "http://" + addr, "--sessions", "2", "--duration", "1s", "--stagger", "0", "--json"}, &out, &errOut)
	assert.Equal(t, exitError, code, errOut.String())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.GreaterOrEqual(t, len(lines), 2)
	assert.Contains(t, lines[0], "sessions")
	var rep struct {
		OK    bool `json:"ok"`
		Steps []struct {
			Failed int `json:"sessions_failed"`
		} `json:"steps"`
	}
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &rep))
	assert.False(t, rep.OK)
	require.Len(t, rep.Steps, 1)
	assert.Equal(t, 2, rep.Steps[0].Failed)
}
