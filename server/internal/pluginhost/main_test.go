package pluginhost

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/parleyhq/parley/server/internal/config"
)

// faultPluginPath is the fault plugin binary built once by TestMain.
var faultPluginPath string //nolint:gochecknoglobals // set once by TestMain before any test runs.

// helperEnv makes the test binary act as a Parley-like host for the
// Pdeathsig test instead of running tests.
const helperEnv = "PLUGINHOST_PDEATHSIG_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(pdeathsigHelper(os.Getenv(helperEnv)))
	}
	dir, err := os.MkdirTemp("", "pluginhost-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	faultPluginPath = filepath.Join(dir, "faultplugin")
	build := exec.Command("go", "build", "-o", faultPluginPath, "./testdata/faultplugin")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build faultplugin:", err)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { _ = os.RemoveAll(dir) }))
}

// pdeathsigHelper starts a host with one plugin, prints the plugin's pid
// and blocks until it is killed.
func pdeathsigHelper(pluginPath string) int {
	h, err := New(config.Plugins{Instances: []config.Instance{{
		Name: "orphan", Kind: config.KindSTT, Path: pluginPath, Args: []string{"-kind", "stt"},
		StartTimeout: 10 * time.Second,
	}}}, config.Resilience{}, config.Pipeline{STT: []string{"orphan"}}, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := h.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(h.Status()[0].PID)
	select {}
}

// childPIDs returns the live (not zombie) child processes of this process.
func childPIDs(t *testing.T) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	self := os.Getpid()
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Fields after the parenthesised command: state ppid ...
		rest := string(stat[strings.LastIndexByte(string(stat), ')')+2:])
		f := strings.Fields(rest)
		if len(f) < 2 || f[0] == "Z" {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid == self {
			out = append(out, pid)
		}
	}
	return out
}

// alive reports whether a process with pid exists (zombies count as gone).
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	rest := string(stat[strings.LastIndexByte(string(stat), ')')+2:])
	return !strings.HasPrefix(rest, "Z")
}

// readLine reads one line from r with a deadline.
func readLine(t *testing.T, r *bufio.Reader, timeout time.Duration) string {
	t.Helper()
	ch := make(chan string, 1)
	go func() {
		line, _ := r.ReadString('\n')
		ch <- strings.TrimSpace(line)
	}()
	select {
	case line := <-ch:
		return line
	case <-time.After(timeout):
		t.Fatal("timed out reading from helper")
		return ""
	}
}
