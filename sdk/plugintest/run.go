package plugintest

import (
	"bytes"
	"errors"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
)

// RunSTT runs the STT conformance suite against impl served in-process
// over gRPC.
func RunSTT(t *testing.T, impl sdk.STT, opts Options) {
	t.Helper()
	stt, ok := dispenseInProcess(t, sdk.ServeConfig{STT: impl}, sdk.KindSTT).(sdk.STT)
	require.True(t, ok, "dispensed client is not an sdk.STT")
	runSTT(t, stt, opts)
}

// RunLLM runs the LLM conformance suite against impl served in-process
// over gRPC.
func RunLLM(t *testing.T, impl sdk.LLM, opts Options) {
	t.Helper()
	llm, ok := dispenseInProcess(t, sdk.ServeConfig{LLM: impl}, sdk.KindLLM).(sdk.LLM)
	require.True(t, ok, "dispensed client is not an sdk.LLM")
	runLLM(t, llm, opts)
}

// RunTTS runs the TTS conformance suite against impl served in-process
// over gRPC.
func RunTTS(t *testing.T, impl sdk.TTS, opts Options) {
	t.Helper()
	tts, ok := dispenseInProcess(t, sdk.ServeConfig{TTS: impl}, sdk.KindTTS).(sdk.TTS)
	require.True(t, ok, "dispensed client is not an sdk.TTS")
	runTTS(t, tts, opts)
}

// dispenseInProcess serves cfg over go-plugin's in-process test gRPC
// connection and returns the host-side client of kind.
func dispenseInProcess(t *testing.T, cfg sdk.ServeConfig, kind sdk.Kind) any {
	t.Helper()
	set, err := cfg.PluginSet()
	require.NoError(t, err)
	client, server := plugin.TestPluginGRPCConn(t, false, set)
	t.Cleanup(func() {
		// Stop first: Close asks the server to stop too, and go-plugin's
		// Stop is not safe to run twice at once.
		server.Stop()
		_ = client.Close()
	})
	require.True(t, waitForBroker(brokerWait, brokerClientFunc, brokerServerFunc), "go-plugin's broker stream did not start")
	raw, err := client.Dispense(string(kind))
	require.NoError(t, err, "dispense %s", kind)
	return raw
}

// The goroutines of go-plugin's broker stream, which it opens
// asynchronously when a client connects.
const (
	brokerClientFunc = "go-plugin.(*gRPCBrokerClientImpl).StartStream.func1"
	brokerServerFunc = "go-plugin.(*gRPCBrokerServer).StartStream.func1"
	brokerWait       = 10 * time.Second
	brokerWaitBinary = 2 * time.Second
	brokerPoll       = time.Millisecond
	stackBufBytes    = 1 << 20
)

// waitForBroker waits until go-plugin's broker stream is up, so that the
// goroutine snapshots of the leak checks include its goroutines. It gives
// up after wait: a plugin written in another language may not serve the
// broker, and then go-plugin's attempt ends by itself.
func waitForBroker(wait time.Duration, funcs ...string) bool {
	buf := make([]byte, stackBufBytes)
	deadline := time.Now().Add(wait)
	poll := time.NewTicker(brokerPoll) // the runtime's stacks give no event to wait on
	defer poll.Stop()
	for ; ; <-poll.C {
		stacks := string(buf[:runtime.Stack(buf, true)])
		up := true
		for _, f := range funcs {
			up = up && strings.Contains(stacks, f)
		}
		if up {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// RunBinary launches the plugin binary at path the way the Parley host
// does (go-plugin, gRPC only, AutoMTLS, VersionedPlugins from
// sdk.ClientPlugins, sdk.DialOptions, only Options.Env in its
// environment), finds the kind it serves, checks that dispensing the other
// kinds fails clearly, and runs that kind's suite. The process is killed
// when the test ends.
func RunBinary(t *testing.T, path string, opts Options) {
	t.Helper()
	logs := &lockedBuffer{}
	cmd := exec.CommandContext(t.Context(), path) //nolint:gosec // the vendor names its own binary.
	cmd.Env = opts.Env
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.HandshakeConfig(),
		VersionedPlugins: sdk.ClientPlugins(),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SkipHostEnv:      true,
		GRPCDialOptions:  sdk.DialOptions(),
		StartTimeout:     opts.timeout(),
		Logger: hclog.New(&hclog.LoggerOptions{
			Name: "plugin", Output: logs, Level: hclog.Debug,
		}),
	})
	t.Cleanup(func() {
		client.Kill()
		if t.Failed() {
			t.Logf("plugin log:\n%s", logs.String())
		}
	})
	rpc, err := client.Client()
	require.NoError(t, err, "start plugin %s", path)
	waitForBroker(brokerWaitBinary, brokerClientFunc)
	require.Equal(t, sdk.ProtocolVersion, client.NegotiatedVersion(), "negotiated protocol version")

	served := map[sdk.Kind]any{}
	for _, kind := range []sdk.Kind{sdk.KindSTT, sdk.KindLLM, sdk.KindTTS} {
		raw, err := rpc.Dispense(string(kind))
		if err != nil {
			assert.True(t, errors.Is(err, &sdk.Error{Code: sdk.CodeUnimplemented}),
				"dispensing a kind the plugin does not serve must fail with CodeUnimplemented, got %v", err)
			continue
		}
		served[kind] = raw
	}
	require.Len(t, served, 1, "a plugin binary serves exactly one kind")
	for kind, raw := range served {
		info, err := raw.(sdk.Plugin).Info(t.Context()) //nolint:forcetypeassert // every kind's client is an sdk.Plugin.
		require.NoError(t, err, "Info")
		require.Equal(t, kind, info.Kind, "the kind Info reports")
		switch c := raw.(type) {
		case sdk.STT:
			runSTT(t, c, opts)
		case sdk.LLM:
			runLLM(t, c, opts)
		case sdk.TTS:
			runTTS(t, c, opts)
		}
	}
	alive := func() bool { return rpc.Ping() == nil }
	assert.True(t, alive(), "the plugin must still answer pings after the suite")
}

// lockedBuffer collects the plugin's log lines from go-plugin's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
