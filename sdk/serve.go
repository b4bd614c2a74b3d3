package sdk

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/parleyhq/parley/sdk/tracing"
)

// ProtocolVersion is the version of the plugin protocol (the .proto files in
// sdk/proto plus the handshake). It is bumped on every breaking change to
// the proto; hosts and plugins negotiate it through go-plugin's
// VersionedPlugins, so a host can keep serving older plugins.
const ProtocolVersion = 1

const (
	// magicCookieKey and magicCookieValue make a plugin binary refuse to run
	// unless started by a Parley host. They are not a secret.
	magicCookieKey   = "PARLEY_PLUGIN"
	magicCookieValue = "7c1f4e0b9a2d4d6e8f53b1a0c9e2d74f"

	// maxMessageBytes raises gRPC's 4 MiB default message limit so that long
	// TTS chunks or LLM requests with big histories fit.
	maxMessageBytes = 16 << 20

	// flowWindowBytes is a static HTTP/2 flow-control window for streams and
	// connections. Setting it turns off gRPC's BDP estimation, which pings
	// the peer after received data: on a local socket the pings buy nothing
	// and their extra wake-ups sit on the audio path.
	flowWindowBytes = 4 << 20

	// dispenseTimeout bounds the Info call Dispense makes to check that the
	// plugin serves the requested kind.
	dispenseTimeout = 10 * time.Second

	maxInt32 = math.MaxInt32
)

// HandshakeConfig returns the go-plugin handshake shared by Parley and its
// plugins. Protocol versions are negotiated with VersionedPlugins; the
// ProtocolVersion field is the fallback for hosts that send none.
func HandshakeConfig() plugin.HandshakeConfig {
	return plugin.HandshakeConfig{
		ProtocolVersion:  ProtocolVersion,
		MagicCookieKey:   magicCookieKey,
		MagicCookieValue: magicCookieValue,
	}
}

// ServeConfig names the implementation a plugin binary serves. Set exactly
// one of STT, LLM or TTS.
type ServeConfig struct {
	STT STT
	LLM LLM
	TTS TTS
	// Logger receives go-plugin's own log lines; nil for go-plugin's default
	// (JSON on stderr, which the host forwards to its log).
	Logger hclog.Logger
}

// Validate reports whether exactly one implementation is set.
func (c ServeConfig) Validate() error {
	n := 0
	for _, set := range []bool{c.STT != nil, c.LLM != nil, c.TTS != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("sdk: ServeConfig must set exactly one of STT, LLM, TTS (got %d)", n)
	}
	return nil
}

// PluginSet returns the go-plugin plugin set that serves c's
// implementation under its kind's name. Serve uses it; tests hand it to
// plugin.TestPluginGRPCConn to run the real gRPC adapters in-process.
func (c ServeConfig) PluginSet() (plugin.PluginSet, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	switch {
	case c.STT != nil:
		return plugin.PluginSet{string(KindSTT): &sttPlugin{impl: c.STT}}, nil
	case c.LLM != nil:
		return plugin.PluginSet{string(KindLLM): &llmPlugin{impl: c.LLM}}, nil
	default:
		return plugin.PluginSet{string(KindTTS): &ttsPlugin{impl: c.TTS}}, nil
	}
}

// Serve runs the plugin process: it performs the go-plugin handshake (gRPC
// only, AutoMTLS when the host asks for it) and serves cfg's implementation
// until the host kills the process. Call it from main. Started by hand
// instead of by a host, go-plugin prints a notice and exits the process.
// An invalid cfg is logged and Serve returns at once.
func Serve(cfg ServeConfig) {
	set, err := cfg.PluginSet()
	if err != nil {
		stderrLogger(cfg.Logger).Error("cannot serve plugin", "error", err)
		return
	}
	// The host passes OTEL_* to a plugin when it traces: the plugin's spans
	// then join the host's traces. Tracing that cannot start is reported
	// and the plugin serves untraced.
	var extra []grpc.ServerOption
	prov, terr := tracing.FromEnv(context.Background(), tracing.ProcessEnv)
	if terr != nil {
		stderrLogger(cfg.Logger).Warn("tracing off", "error", terr)
	}
	if prov != nil {
		extra = append(extra, tracing.ServerOption(prov.TracerProvider()))
		defer flushTraces(prov, cfg.Logger)
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  HandshakeConfig(),
		VersionedPlugins: map[int]plugin.PluginSet{ProtocolVersion: set},
		GRPCServer:       newGRPCServer(extra...),
		Logger:           cfg.Logger,
	})
}

// traceFlushTimeout bounds the export of buffered spans when the plugin
// stops: the host waits 2 s for a graceful exit before it kills.
const traceFlushTimeout = time.Second

// flushTraces exports the spans still buffered and stops the exporter.
func flushTraces(p *tracing.Provider, logger hclog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), traceFlushTimeout)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		stderrLogger(logger).Warn("traces not all exported", "error", err)
	}
}

// stderrLogger is logger, or go-plugin's JSON on stderr when nil.
func stderrLogger(logger hclog.Logger) hclog.Logger {
	if logger == nil {
		return hclog.New(&hclog.LoggerOptions{Output: os.Stderr, JSONFormat: true})
	}
	return logger
}

// newGRPCServer returns the gRPC server constructor Serve hands to
// go-plugin: go-plugin's options (TLS) plus Parley's raised message limits
// and extra.
func newGRPCServer(extra ...grpc.ServerOption) func([]grpc.ServerOption) *grpc.Server {
	return func(opts []grpc.ServerOption) *grpc.Server {
		opts = append(opts, serverOptions()...)
		return grpc.NewServer(append(opts, extra...)...)
	}
}

func serverOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(maxMessageBytes),
		grpc.MaxSendMsgSize(maxMessageBytes),
		grpc.InitialWindowSize(flowWindowBytes),
		grpc.InitialConnWindowSize(flowWindowBytes),
	}
}

// DialOptions returns the gRPC dial options a host passes to go-plugin's
// ClientConfig.GRPCDialOptions: raised message limits and the same static
// flow-control windows the plugin side uses (no BDP pings on the local
// socket). The adapters from ClientPlugins set the message limits per call
// as well, so hosts that skip these still get them.
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithDefaultCallOptions(callOptions()...),
		grpc.WithInitialWindowSize(flowWindowBytes),
		grpc.WithInitialConnWindowSize(flowWindowBytes),
	}
}

func callOptions() []grpc.CallOption {
	return []grpc.CallOption{
		grpc.MaxCallRecvMsgSize(maxMessageBytes),
		grpc.MaxCallSendMsgSize(maxMessageBytes),
	}
}

// ClientPlugins returns the plugin sets a host passes to go-plugin's
// ClientConfig.VersionedPlugins. The plugin names are the kind strings
// ("stt", "llm", "tts"); Dispense(kind) returns an sdk.STT, sdk.LLM or
// sdk.TTS. A plugin binary serves one kind only: dispensing another kind
// fails with a CodeUnimplemented *Error that says so.
func ClientPlugins() map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		ProtocolVersion: {
			string(KindSTT): &sttPlugin{},
			string(KindLLM): &llmPlugin{},
			string(KindTTS): &ttsPlugin{},
		},
	}
}

// checkKind asks the dispensed client's Info and makes sure the plugin
// serves the wanted kind.
func checkKind(ctx context.Context, want Kind, info func(context.Context) (Info, error)) error {
	ctx, cancel := context.WithTimeout(ctx, dispenseTimeout)
	defer cancel()
	got, err := info(ctx)
	if errors.Is(err, &Error{Code: CodeUnimplemented}) {
		return &Error{
			Code:    CodeUnimplemented,
			Message: fmt.Sprintf("plugin does not serve kind %q (no %s service)", want, want),
			Details: map[string]string{"kind": string(want)},
			Err:     err,
		}
	}
	if err != nil {
		return fmt.Errorf("sdk: dispense %s: info: %w", want, err)
	}
	if got.Kind != want {
		return &Error{
			Code:    CodeFailedPrecondition,
			Message: fmt.Sprintf("plugin %q serves the %s service but reports kind %q", got.Name, want, got.Kind),
			Details: map[string]string{"kind": string(want)},
		}
	}
	return nil
}

// sttPlugin is the go-plugin glue for STT; impl is nil on the host side.
type sttPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl STT
}

// GRPCServer registers the STT service.
func (p *sttPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	registerSTT(s, p.impl)
	return nil
}

// GRPCClient returns an sdk.STT talking to the plugin.
func (p *sttPlugin) GRPCClient(ctx context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	c := newSTTClient(conn)
	if err := checkKind(ctx, KindSTT, c.Info); err != nil {
		return nil, err
	}
	return c, nil
}

// llmPlugin is the go-plugin glue for LLM; impl is nil on the host side.
type llmPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl LLM
}

// GRPCServer registers the LLM service.
func (p *llmPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	registerLLM(s, p.impl)
	return nil
}

// GRPCClient returns an sdk.LLM talking to the plugin.
func (p *llmPlugin) GRPCClient(ctx context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	c := newLLMClient(conn)
	if err := checkKind(ctx, KindLLM, c.Info); err != nil {
		return nil, err
	}
	return c, nil
}

// ttsPlugin is the go-plugin glue for TTS; impl is nil on the host side.
type ttsPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl TTS
}

// GRPCServer registers the TTS service.
func (p *ttsPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	registerTTS(s, p.impl)
	return nil
}

// GRPCClient returns an sdk.TTS talking to the plugin.
func (p *ttsPlugin) GRPCClient(ctx context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	c := newTTSClient(conn)
	if err := checkKind(ctx, KindTTS, c.Info); err != nil {
		return nil, err
	}
	return c, nil
}
