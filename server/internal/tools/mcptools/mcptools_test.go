package mcptools

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/tools"
)

// helperEnv makes the test binary an MCP server on stdio (testServer).
const helperEnv = "MCPTOOLS_TEST_STDIO_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		if err := testServer().Run(context.Background(), &mcp.StdioTransport{}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	// The in-test HTTP server's session of a client that vanished (the
	// server-down test) waits for a request that never comes.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/modelcontextprotocol/go-sdk/mcp.(*streamableServerConn).Read"))
}

type echoIn struct {
	Text string `json:"text"`
}

type sizeIn struct {
	Bytes int `json:"bytes"`
}

type sleepIn struct {
	Millis int `json:"millis"`
}

type none struct{}

func textResult(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}

// testServer is a Go SDK MCP server with a tool for each case: echo, an
// error result, a result of any size, a slow tool, its pid, and one that
// adds a tool (so the list changes).
func testServer() *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "1"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "echo", Description: "Echoes text."}, func(_ context.Context, _ *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
		return textResult("echo: " + in.Text), nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "fail", Description: "Always fails."}, func(context.Context, *mcp.CallToolRequest, none) (*mcp.CallToolResult, any, error) {
		r := textResult("the tool could not do it")
		r.IsError = true
		return r, nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "big", Description: "Returns bytes of text."}, func(_ context.Context, _ *mcp.CallToolRequest, in sizeIn) (*mcp.CallToolResult, any, error) {
		return textResult(strings.Repeat("x", in.Bytes)), nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "sleep", Description: "Sleeps."}, func(ctx context.Context, _ *mcp.CallToolRequest, in sleepIn) (*mcp.CallToolResult, any, error) {
		select {
		case <-time.After(time.Duration(in.Millis) * time.Millisecond):
		case <-ctx.Done():
		}
		return textResult("slept"), nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "pid", Description: "Returns the server's pid."}, func(context.Context, *mcp.CallToolRequest, none) (*mcp.CallToolResult, any, error) {
		return textResult(strconv.Itoa(os.Getpid())), nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "grow", Description: "Adds the tool late."}, func(context.Context, *mcp.CallToolRequest, none) (*mcp.CallToolResult, any, error) {
		mcp.AddTool(s, &mcp.Tool{Name: "late", Description: "Added later."}, func(context.Context, *mcp.CallToolRequest, none) (*mcp.CallToolResult, any, error) {
			return textResult("late"), nil, nil
		})
		return textResult("grown"), nil, nil
	})
	return s
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// start makes and starts a Server of cfg, closed when the test ends.
func start(t *testing.T, cfg config.MCPServer) (*Server, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	require.NoError(t, err)
	s := New(cfg, "test", m, testLogger(t))
	s.Start(t.Context())
	t.Cleanup(func() { _ = s.Close() })
	return s, reg
}

// httpServer serves testServer over Streamable HTTP; the header check
// proves headers_env values are sent.
func httpServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := testServer()
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer mcp-test-token" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	return hs
}

func httpConfig(url string) config.MCPServer {
	return config.MCPServer{
		Name: "web", URL: url, Timeout: 2 * time.Second,
		HeadersEnv: map[string]string{"Authorization": "MCP_TOKEN"}, HeaderValues: map[string]string{"Authorization": "Bearer mcp-test-token"},
	}
}

func stdioConfig(t *testing.T) config.MCPServer {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	return config.MCPServer{
		Name: "local", Command: exe, Args: []string{"-test.run=^$"}, Timeout: 5 * time.Second,
		Env: []string{helperEnv}, EnvValues: map[string]string{helperEnv: "1"},
	}
}

func names(ts []sdk.Tool) []string {
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

func call(t *testing.T, s *Server, name, args string) (tools.Result, error) {
	t.Helper()
	return s.Call(t.Context(), sdk.ToolCall{ID: "c1", Name: name, Arguments: json.RawMessage(args)})
}

// TestListAndCallOverHTTP: tools are listed with the server's name as
// prefix and their input schemas, calls carry the configured headers, and
// text results come back as they are.
func TestListAndCallOverHTTP(t *testing.T) {
	s, reg := start(t, httpConfig(httpServer(t).URL))
	got := s.Tools()
	assert.Equal(t, []string{"web_big", "web_echo", "web_fail", "web_grow", "web_pid", "web_sleep"}, sortedNames(got))
	for _, tl := range got {
		if tl.Name == "web_echo" {
			assert.JSONEq(t, `{"type":"object","properties":{"text":{"type":"string"}},"required":["text"],"additionalProperties":false}`, string(tl.Parameters))
			assert.Equal(t, "Echoes text.", tl.Description)
		}
	}
	assert.True(t, s.Has("web_echo"))
	assert.False(t, s.Has("echo"), "offered names carry the prefix")
	res, err := call(t, s, "web_echo", `{"text":"hello"}`)
	require.NoError(t, err)
	assert.Equal(t, tools.Result{Output: "echo: hello"}, res)
	assert.Equal(t, 1.0, testutil.ToFloat64(s.metrics.calls.WithLabelValues("web", "ok")))
	assert.Equal(t, 6.0, testutil.ToFloat64(s.metrics.tools.WithLabelValues("web")))
	_, err = reg.Gather()
	require.NoError(t, err)
}

func sortedNames(ts []sdk.Tool) []string {
	n := names(ts)
	for i := range n {
		for j := i + 1; j < len(n); j++ {
			if n[j] < n[i] {
				n[i], n[j] = n[j], n[i]
			}
		}
	}
	return n
}

// TestErrorsAreToolErrors: an error result, an unknown tool at the
// server, bad arguments, a timeout and an oversized result all come back
// as errors or error results the model can read; none is a panic or a hang.
func TestErrorsAreToolErrors(t *testing.T) {
	cfg := httpConfig(httpServer(t).URL)
	cfg.Timeout = 300 * time.Millisecond
	cfg.MaxResultBytes = 1000
	s, _ := start(t, cfg)

	res, err := call(t, s, "web_fail", `{}`)
	require.NoError(t, err)
	assert.Equal(t, tools.Result{Output: "the tool could not do it", IsError: true}, res)

	_, err = call(t, s, "web_sleep", `{"millis":5000}`)
	require.ErrorIs(t, err, ErrUnavailable)
	assert.Contains(t, err.Error(), "web_sleep gave no answer within 300ms")

	_, err = call(t, s, "web_big", `{"bytes":5000}`)
	require.ErrorIs(t, err, ErrResultTooLarge)
	assert.Contains(t, err.Error(), "5000 bytes, over the 1000-byte cap")
	res, err = call(t, s, "web_big", `{"bytes":10}`)
	require.NoError(t, err)
	assert.Len(t, res.Output, 10)

	res, err = call(t, s, "web_echo", `{"text":7}`)
	require.NoError(t, err)
	assert.True(t, res.IsError, "arguments that do not fit the schema are a tool error: %+v", res)

	_, err = call(t, s, "web_nope", `{}`)
	require.ErrorIs(t, err, tools.ErrUnknownTool)
	// The timeouts and protocol errors above did not open the breaker.
	res, err = call(t, s, "web_echo", `{"text":"still here"}`)
	require.NoError(t, err)
	assert.Equal(t, "echo: still here", res.Output)
}

// TestAllowedToolsAndPrefix: allowed_tools narrows the list (by the
// server's names), prefix replaces the default and "-" drops it.
func TestAllowedToolsAndPrefix(t *testing.T) {
	url := httpServer(t).URL
	cfg := httpConfig(url)
	cfg.AllowedTools, cfg.Prefix = []string{"echo", "pid"}, "crm_"
	s, _ := start(t, cfg)
	assert.Equal(t, []string{"crm_echo", "crm_pid"}, sortedNames(s.Tools()))
	_, err := call(t, s, "crm_fail", `{}`)
	require.ErrorIs(t, err, tools.ErrUnknownTool, "a tool not allowed cannot be called")

	cfg = httpConfig(url)
	cfg.Name, cfg.Prefix, cfg.AllowedTools = "bare", "-", []string{"echo"}
	s, _ = start(t, cfg)
	assert.Equal(t, []string{"echo"}, names(s.Tools()))
}

// TestListChangedRefreshes: a tools/list_changed notification refreshes
// the cached list at once (the TTL is long).
func TestListChangedRefreshes(t *testing.T) {
	cfg := httpConfig(httpServer(t).URL)
	cfg.ListTTL = time.Hour
	s, _ := start(t, cfg)
	assert.False(t, s.Has("web_late"))
	_, err := call(t, s, "web_grow", `{}`)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return s.Has("web_late") }, 5*time.Second, 10*time.Millisecond)
	res, err := call(t, s, "web_late", `{}`)
	require.NoError(t, err)
	assert.Equal(t, "late", res.Output)
}

// TestServerDownOpensBreaker: a remote server that stops answering makes
// calls fail with a readable error, then the breaker opens (fast refusals
// the model reads as "not answering"); the cached list stays offered.
func TestServerDownOpensBreaker(t *testing.T) {
	hs := httpServer(t)
	s, _ := start(t, httpConfig(hs.URL))
	_, err := call(t, s, "web_echo", `{"text":"up"}`)
	require.NoError(t, err)
	hs.CloseClientConnections()
	hs.Close()
	for range breakerTrip {
		_, err = call(t, s, "web_echo", `{"text":"down"}`)
		require.ErrorIs(t, err, ErrUnavailable)
		assert.NotContains(t, err.Error(), "127.0.0.1", "no address in what the model reads")
	}
	_, err = call(t, s, "web_echo", `{"text":"down"}`)
	require.ErrorIs(t, err, ErrUnavailable)
	assert.Contains(t, err.Error(), "the web server is not answering")
	assert.Equal(t, 1.0, testutil.ToFloat64(s.metrics.calls.WithLabelValues("web", "breaker_open")))
	assert.Contains(t, names(s.Tools()), "web_echo", "the last list stays offered")
}

// TestStdioServerRestartsAfterCrash: a local server is started over stdio
// with only the environment its entry names; killed, it is started again
// by the next call, like a crashed plugin.
func TestStdioServerRestartsAfterCrash(t *testing.T) {
	s, _ := start(t, stdioConfig(t))
	require.Contains(t, names(s.Tools()), "local_pid")
	res, err := call(t, s, "local_pid", `{}`)
	require.NoError(t, err)
	pid, err := strconv.Atoi(res.Output)
	require.NoError(t, err)
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	// The very next call, made before the connection is known lost,
	// starts the server again and is answered.
	res, err = call(t, s, "local_pid", `{}`)
	require.NoError(t, err, "the next call starts the server again")
	again, err := strconv.Atoi(res.Output)
	require.NoError(t, err)
	assert.NotEqual(t, pid, again, "a new process")
	assert.Equal(t, 1.0, testutil.ToFloat64(s.metrics.up.WithLabelValues("local")))
	require.NoError(t, s.Close())
	assert.Eventually(t, func() bool { return syscall.Kill(again, 0) != nil }, 10*time.Second, 20*time.Millisecond, "Close stops the server")
}

// TestUnreachableAtStartComesLater: a server down at start offers no
// tools; once it answers, its tools appear.
func TestUnreachableAtStartComesLater(t *testing.T) {
	var lc net.ListenConfig
	ln, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	cfg := httpConfig("http://" + addr + "/")
	cfg.Timeout = 500 * time.Millisecond
	s, _ := start(t, cfg)
	assert.Empty(t, s.Tools())

	srv := testServer()
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)
	ln, err = lc.Listen(t.Context(), "tcp", addr)
	require.NoError(t, err)
	hs := &http.Server{Handler: h, ReadHeaderTimeout: time.Second}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	// Sessions ask for the tools at every turn; that is what lists again.
	require.Eventually(t, func() bool { return len(s.Tools()) > 0 }, 3*relistInterval, 50*time.Millisecond)
	assert.True(t, s.Has("web_echo"))
}

// everything is the reference MCP server from npm
// (@modelcontextprotocol/server-everything), installed by make node-deps.
func everything(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for ; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		require.NotEqual(t, "/", dir, "no go.mod above the test")
	}
	entry := filepath.Join(dir, "bin", "node", "node_modules", "@modelcontextprotocol", "server-everything", "dist", "index.js")
	if _, err := os.Stat(entry); err != nil {
		if os.Getenv("E2E_REQUIRE_MCP_EVERYTHING") != "" {
			t.Fatalf("server-everything is not installed (make node-deps): %v", err)
		}
		t.Skip("server-everything is not installed: run make node-deps")
	}
	return entry
}

// TestReferenceServerEverything: the reference server nobody here wrote,
// over stdio and over Streamable HTTP: its tools are listed, echo and
// get-sum answer, and a long operation is cut off by the timeout.
func TestReferenceServerEverything(t *testing.T) {
	entry := everything(t)
	node, err := exec.LookPath("node")
	require.NoError(t, err)
	check := func(t *testing.T, s *Server) {
		t.Helper()
		// Node may take longer than the 3 s timeout to start on a loaded
		// machine: the tools then appear at the next listing (every 5 s
		// while none are known), as documented.
		require.Eventually(t, func() bool { return slices.Contains(names(s.Tools()), "ev_echo") }, 30*time.Second, 50*time.Millisecond,
			"the reference server's tools are listed")
		res, err := call(t, s, "ev_echo", `{"message":"hi from parley"}`)
		require.NoError(t, err)
		assert.Contains(t, res.Output, "hi from parley")
		res, err = call(t, s, "ev_get-sum", `{"a":2,"b":40}`)
		require.NoError(t, err)
		assert.Contains(t, res.Output, "42")
		_, err = call(t, s, "ev_trigger-long-running-operation", `{"duration":30,"steps":3}`)
		require.ErrorIs(t, err, ErrUnavailable)
	}
	t.Run("stdio", func(t *testing.T) {
		s, _ := start(t, config.MCPServer{
			Name: "ev", Command: node, Args: []string{entry, "stdio"}, Timeout: 3 * time.Second,
			AllowedTools: []string{"echo", "get-sum", "trigger-long-running-operation"},
		})
		check(t, s)
		assert.Len(t, s.Tools(), 3, "allowed_tools")
	})
	t.Run("streamable-http", func(t *testing.T) {
		var lc net.ListenConfig
		ln, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
		require.NoError(t, err)
		port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		require.NoError(t, ln.Close())
		cmd := exec.Command(node, entry, "streamableHttp") //nolint:noctx // stopped below.
		cmd.Env = []string{"PORT=" + port, "PATH=" + os.Getenv("PATH")}
		cmd.Stdout, cmd.Stderr = t.Output(), t.Output()
		require.NoError(t, cmd.Start())
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
		url := "http://127.0.0.1:" + port + "/mcp"
		require.Eventually(t, func() bool {
			resp, err := http.Get(url) //nolint:noctx,gosec // a readiness poll on loopback.
			if err != nil {
				return false
			}
			_ = resp.Body.Close()
			return true
		}, 20*time.Second, 100*time.Millisecond)
		s, _ := start(t, config.MCPServer{Name: "ev", URL: url, Timeout: 3 * time.Second})
		check(t, s)
	})
}

// TestLocalServerNotTiedToAThread: a local server must not get Pdeathsig.
// It fires when the OS thread that forked the child ends, and the plugin
// host ends threads (its supervisors lock theirs): with it, the demo
// notes server was SIGKILLed at every shutdown of a non-race build
// ("MCP server did not close cleanly: signal: killed"), and could be
// killed by a plugin reload. Its end comes from its stdin closing instead
// (TestMCPServerEndsWithKilledParley in server/e2e).
func TestLocalServerNotTiedToAThread(t *testing.T) {
	attr := sysProcAttr()
	require.NotNil(t, attr)
	assert.Zero(t, attr.Pdeathsig)
	assert.True(t, attr.Setpgid, "its own process group: a terminal's Ctrl-C reaches Parley only")
}
