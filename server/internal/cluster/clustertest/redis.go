// Package clustertest runs a real redis-server for the cluster tests: on a
// fixed loopback port, so a test can stop it and start it again (Redis
// going away and coming back).
package clustertest

import (
	"bufio"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startLimit bounds waiting for redis-server to accept connections.
const startLimit = 10 * time.Second

// Redis is a throwaway redis-server without persistence.
type Redis struct {
	t    testing.TB
	port int
	cmd  *exec.Cmd
}

// Need returns the path of the named tool, or ends the test: a failure
// when the variable require is "1" (make test sets it), a skip otherwise.
func Need(t testing.TB, tool, require string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err == nil {
		return p
	}
	if os.Getenv(require) == "1" {
		t.Fatalf("%s is needed (%s=1): make deps-test installs it (Debian package)", tool, require)
	}
	t.Skipf("%s not installed (make test installs it and sets %s=1)", tool, require)
	return ""
}

// StartRedis starts redis-server on a free loopback port; the test's
// cleanup stops it. require names the E2E_REQUIRE_… variable that turns a
// missing redis-server into a failure.
func StartRedis(t testing.TB, require string) *Redis {
	t.Helper()
	Need(t, "redis-server", require)
	r := &Redis{t: t, port: FreePort(t)}
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

// FreePort is a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		t.Fatalf("free port: %v", err)
	}
	return port
}

// Addr is host:port of the server.
func (r *Redis) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

// Start (re)starts the server on its port, empty, and waits until it
// accepts connections.
func (r *Redis) Start() {
	r.t.Helper()
	// Stop ends it; the test's context is a backstop.
	cmd := exec.CommandContext(r.t.Context(), "redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	out, err := cmd.StdoutPipe()
	if err != nil {
		r.t.Fatalf("redis-server: %v", err)
	}
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("redis-server: %v", err)
	}
	r.cmd = cmd
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Ready to accept connections") {
				close(ready)
				break
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case <-ready:
	case <-time.After(startLimit):
		r.t.Fatal("redis-server did not start")
	}
}

// Stop kills the server (SIGKILL: Redis vanishing, not shutting down) and
// waits for it.
func (r *Redis) Stop() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}
