package python_test

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
)

const (
	// startTimeout bounds a plugin's handshake: a safety net, not a timing check.
	startTimeout = 30 * time.Second
	// exitPoll is how often a test looks whether the plugin process exited.
	exitPoll = 10 * time.Millisecond
)

// hostLog collects go-plugin's log lines (the plugin's stderr included).
type hostLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (l *hostLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns the lines so far.
func (l *hostLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// launched is a plugin process started the way pluginhost starts one.
type launched struct {
	client *plugin.Client
	rpc    plugin.ClientProtocol
	cmd    *exec.Cmd
	log    *hostLog
}

// launch starts the plugin at rel (relative to this package) through
// go-plugin with Parley's host settings: gRPC only, AutoMTLS, no host
// environment, VersionedPlugins from sdk.ClientPlugins.
func launch(t *testing.T, rel string, env ...string) *launched {
	t.Helper()
	requirePython(t)
	path, err := filepath.Abs(rel)
	require.NoError(t, err)
	logs := &hostLog{}
	cmd := exec.Command(path) //nolint:noctx // go-plugin owns the process's life (Kill).
	cmd.Env = env
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.HandshakeConfig(),
		VersionedPlugins: sdk.ClientPlugins(),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SkipHostEnv:      true,
		GRPCDialOptions:  sdk.DialOptions(),
		StartTimeout:     startTimeout,
		Logger:           hclog.New(&hclog.LoggerOptions{Name: "host", Output: logs, Level: hclog.Trace, JSONFormat: true}),
	})
	t.Cleanup(func() {
		client.Kill()
		if t.Failed() {
			t.Logf("host log:\n%s", logs)
		}
	})
	rpc, err := client.Client()
	require.NoError(t, err, "start %s", rel)
	return &launched{client: client, rpc: rpc, cmd: cmd, log: logs}
}

// TestGracefulShutdown: go-plugin's Kill asks the plugin to stop through
// GRPCController.Shutdown; the Python process exits 0 by itself (no
// SIGKILL), and the host saw the stdio and broker services it expects.
func TestGracefulShutdown(t *testing.T) {
	p := launch(t, "examples/tts_tone.py")
	raw, err := p.rpc.Dispense(string(sdk.KindTTS))
	require.NoError(t, err)
	tts, ok := raw.(sdk.TTS)
	require.True(t, ok)
	_, err = tts.Info(t.Context())
	require.NoError(t, err)
	p.client.Kill()
	require.NotNil(t, p.cmd.ProcessState, "the process was reaped")
	assert.Equal(t, 0, p.cmd.ProcessState.ExitCode(), "exit status: %s", p.cmd.ProcessState)
	logs := p.log.String()
	assert.NotContains(t, logs, "failed to exit gracefully")
	assert.NotContains(t, logs, "stdio service not available")
	assert.Contains(t, logs, "waiting for stdio data", "the host's stdio stream was open")
}

// TestSIGTERM: a plugin told to stop by SIGTERM (a service manager
// stopping the process group) stops serving and exits 0 by itself.
func TestSIGTERM(t *testing.T) {
	p := launch(t, "examples/stt_bursts.py")
	require.NoError(t, p.rpc.Ping())
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	require.Eventually(t, p.client.Exited, startTimeout, exitPoll, "the plugin exits after SIGTERM")
	require.NotNil(t, p.cmd.ProcessState)
	assert.Equal(t, 0, p.cmd.ProcessState.ExitCode(), "exit status: %s", p.cmd.ProcessState)
}

// TestPythonUnit runs the SDK's Python unit tests (sdk/python/tests) on
// Debian's interpreter, so `make test` runs them.
func TestPythonUnit(t *testing.T) {
	requirePython(t)
	cmd := exec.CommandContext(t.Context(), python, "-m", "unittest", "discover", "-s", "tests", "-v")
	cmd.Env = []string{"PYTHONDONTWRITEBYTECODE=1"}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "python unit tests:\n%s", out)
	t.Logf("%s", out)
}

// TestRunByHand: without the host's magic cookie a plugin says what it is
// and exits 1 instead of waiting for a handshake nobody will read.
func TestRunByHand(t *testing.T) {
	requirePython(t)
	cmd := exec.CommandContext(t.Context(), "examples/tts_tone.py")
	cmd.Env = []string{}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "output: %s", out)
	assert.Equal(t, 1, exit.ExitCode())
	assert.Contains(t, string(out), "It is not meant to be run by hand")
}

// TestProtocolMismatch: a host that speaks only other protocol versions
// gets the plugin's version in the handshake and refuses it, naming it.
func TestProtocolMismatch(t *testing.T) {
	requirePython(t)
	path, err := filepath.Abs("examples/llm_echo.py")
	require.NoError(t, err)
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.HandshakeConfig(),
		VersionedPlugins: map[int]plugin.PluginSet{sdk.ProtocolVersion + 1: sdk.ClientPlugins()[sdk.ProtocolVersion]},
		Cmd:              exec.Command(path), //nolint:noctx // go-plugin owns the process's life (Kill).
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SkipHostEnv:      true,
		StartTimeout:     startTimeout,
		Logger:           hclog.NewNullLogger(),
	})
	defer client.Kill()
	_, err = client.Client()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Plugin version: 1")
}
