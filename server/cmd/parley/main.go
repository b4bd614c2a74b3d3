// Command parley is the Parley voice server.
//
//	parley [--config FILE]...           serve (default configs/parley.yaml); SIGHUP reloads
//	parley config check [FILE...]       validate a configuration and exit
//	parley config print [--config F]... print the effective configuration, secrets redacted
//	parley loadtest [flags]             simulated callers on /ws/voice or WebRTC; see --help
//	parley eval [flags] PATH...         scripted conversations checked against expectations; see --help
//	parley provider-fakes [--addr A]    local fakes of Deepgram, Anthropic and ElevenLabs for capacity runs
//
// Several files layer, lowest first (config.MergeRule): a base file and
// overlays, e.g. --config configs/parley.yaml --config configs/examples/anthropic.yaml.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/parleyhq/parley/server/internal/app"
	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/httpapi"
	"github.com/parleyhq/parley/server/internal/loadtest"
	"github.com/parleyhq/parley/server/internal/mcpnotes"
	"github.com/parleyhq/parley/server/internal/providerfake"
	"github.com/parleyhq/parley/server/internal/telemetry"
)

// Set at build time with -ldflags "-X main.version=… -X main.commit=…".
var (
	version = "dev"
	commit  = "unknown"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "config" {
		return configCmd(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "mcp-notes" {
		return mcpNotesCmd(args[1:], stderr)
	}
	if len(args) > 0 && args[0] == "loadtest" {
		return loadtestCmd(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "provider-fakes" {
		return providerFakesCmd(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "eval" {
		return evalCmd(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "serve" {
		args = args[1:]
	}
	fs := flag.NewFlagSet("parley", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var paths pathList
	fs.Var(&paths, "config", "configuration file (YAML); repeat to layer overlays, lowest first")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	cfg, err := config.Load(paths...)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitError
	}
	logger := telemetry.NewLogger(stderr, cfg.Log)
	telemetry.SetGCPercent(cfg.Telemetry.GCPercent, logger)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.HTTP.Addr)
	if err != nil {
		logger.Error("listen", "addr", cfg.HTTP.Addr, "err", err)
		return exitError
	}
	// SIGHUP reloads the plugins from the config files and the TLS
	// certificate (and is not a reason to stop).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if len(paths) == 0 {
		paths = pathList{config.DefaultPath}
	}
	a := app.New(cfg, httpapi.VersionInfo{Version: version, Commit: commit}, logger,
		app.WithReloadSignal(hup), app.WithConfigFiles(paths...))
	if err := a.Run(ctx, ln); err != nil && !errors.Is(err, context.Canceled) {
		logger.Error("parley stopped", "err", err)
		return exitError
	}
	logger.Info("parley stopped cleanly")
	return exitOK
}

// pathList is a repeatable --config flag.
type pathList []string

func (p *pathList) String() string { return strings.Join(*p, ",") }

func (p *pathList) Set(v string) error {
	*p = append(*p, v)
	return nil
}

func configCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: parley config check [FILE] | parley config print [--config FILE]")
		return exitUsage
	}
	switch args[0] {
	case "check":
		paths := args[1:]
		if len(paths) == 0 {
			paths = []string{config.DefaultPath}
		}
		if _, err := config.Load(paths...); err != nil {
			fmt.Fprintln(stderr, err)
			return exitError
		}
		fmt.Fprintf(stdout, "%s: ok\n", strings.Join(paths, " + "))
		return exitOK
	case "print":
		fs := flag.NewFlagSet("parley config print", flag.ContinueOnError)
		fs.SetOutput(stderr)
		var paths pathList
		fs.Var(&paths, "config", "configuration file (YAML); repeat to layer overlays, lowest first")
		if err := fs.Parse(args[1:]); err != nil {
			return exitUsage
		}
		cfg, err := config.Load(paths...)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return exitError
		}
		out, err := cfg.YAML()
		if err != nil {
			fmt.Fprintln(stderr, err)
			return exitError
		}
		_, _ = stdout.Write(out)
		return exitOK
	default:
		fmt.Fprintf(stderr, "unknown config command %q: want check or print\n", args[0])
		return exitUsage
	}
}

// mcpNotesCmd runs the demo notes MCP server: over stdio (how the offline
// config starts it), or over Streamable HTTP with --http ADDR.
func mcpNotesCmd(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("parley mcp-notes", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("http", "", "serve Streamable HTTP on this address instead of stdio (e.g. 127.0.0.1:8090)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var err error
	if *addr == "" {
		err = mcpnotes.ServeStdio(ctx, version)
	} else {
		var lc net.ListenConfig
		ln, lerr := lc.Listen(ctx, "tcp", *addr)
		if lerr != nil {
			fmt.Fprintln(stderr, lerr)
			return exitError
		}
		fmt.Fprintln(stderr, "mcp-notes listening on", ln.Addr().String())
		err = mcpnotes.ServeHTTP(ctx, ln, version)
	}
	if err != nil {
		fmt.Fprintln(stderr, "mcp-notes:", err)
		return exitError
	}
	return exitOK
}

// providerFakesCmd runs `parley provider-fakes`: the local fakes of the
// hosted STT, LLM and TTS APIs on one loopback listener, so the provider
// plugins can be load-tested with no network and no key
// (configs/examples/provider-fakes.yaml points them here). It prints the
// environment the server needs (the fakes' dummy keys) on stdout.
func providerFakesCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("parley provider-fakes", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:18500", "listen address (loopback unless --allow-remote)")
	allowRemote := fs.Bool("allow-remote", false, "allow a listen address that is not loopback")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		fmt.Fprintln(stderr, "provider-fakes: --addr:", err)
		return exitUsage
	}
	if ip := net.ParseIP(host); !*allowRemote && host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		fmt.Fprintf(stderr, "provider-fakes: --addr %s is not a loopback address (give --allow-remote to serve it anyway)\n", *addr)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", *addr)
	if err != nil {
		fmt.Fprintln(stderr, "provider-fakes:", err)
		return exitError
	}
	fmt.Fprintf(stdout, "DEEPGRAM_API_KEY=%s\nANTHROPIC_API_KEY=%s\nELEVENLABS_API_KEY=%s\n",
		providerfake.DeepgramKey, providerfake.AnthropicKey, providerfake.ElevenLabsKey)
	fmt.Fprintln(stderr, "provider-fakes listening on", ln.Addr().String())
	if err := (&providerfake.Fakes{}).Serve(ctx, ln); err != nil {
		fmt.Fprintln(stderr, "provider-fakes:", err)
		return exitError
	}
	return exitOK
}

// loadtestCmd runs `parley loadtest`: it parses flags into a
// loadtest.Config, runs it and prints the table (and the JSON line).
func loadtestCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("parley loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := loadtest.Config{}
	fs.StringVar(&cfg.URL, "url", loadtest.DefaultURL, "server base URL; callers use its /ws/voice or /v1/webrtc/offer")
	fs.StringVar(&cfg.Transport, "transport", loadtest.DefaultTransport, "callers' transport: ws (/ws/voice) or webrtc (Opus over a pion peer connection)")
	fs.StringVar(&cfg.Token, "token", "", "API key or client token (sent as Authorization: Bearer)")
	fs.BoolVar(&cfg.AllowRemote, "allow-remote", false, "allow a target that is not loopback")
	wav := fs.String("wav", "", "question to speak: a 16 kHz PCM16 WAV (default: 1.3 s of generated voiced speech)")
	fs.IntVar(&cfg.Sessions, "sessions", loadtest.DefaultSessions, "concurrent callers (a ramp's first step)")
	fs.DurationVar(&cfg.Duration, "duration", loadtest.DefaultDuration, "length of a run (not a ramp)")
	fs.DurationVar(&cfg.Gap, "gap", loadtest.DefaultGap, "silence after each answer before the next question")
	fs.DurationVar(&cfg.Stagger, "stagger", loadtest.DefaultStagger, "delay between the starts of two callers")
	fs.DurationVar(&cfg.TurnTimeout, "turn-timeout", loadtest.DefaultTurnTimeout, "wait for an answer before asking again")
	fs.BoolVar(&cfg.Ramp, "ramp", false, "add --step callers every --step-duration until a threshold is crossed")
	fs.IntVar(&cfg.Step, "step", loadtest.DefaultStep, "callers added per ramp step")
	fs.DurationVar(&cfg.StepDuration, "step-duration", loadtest.DefaultStepDuration, "length of a ramp step")
	fs.IntVar(&cfg.MaxSessions, "max-sessions", loadtest.DefaultMaxSessions, "a ramp's largest step")
	fs.DurationVar(&cfg.MaxP99, "max-p99", 0, "voice-to-voice p99 threshold (0: none; a ramp with no threshold uses 2s and --max-late 0.01)")
	fs.Float64Var(&cfg.MaxLate, "max-late", -1, "late-frame threshold, a fraction of all frames (negative: none)")
	pids := fs.String("pid", "", "comma-separated process ids (server, plugins) to sample CPU and RSS of")
	asJSON := fs.Bool("json", false, "also print the report as one JSON object on the last line")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "parley loadtest: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	for _, p := range strings.Split(*pids, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			fmt.Fprintf(stderr, "parley loadtest: --pid %q: not a process id\n", p)
			return exitUsage
		}
		cfg.PIDs = append(cfg.PIDs, n)
	}
	cfg.Speech = loadtest.Question()
	if *wav != "" {
		s, err := loadtest.LoadWAV(*wav)
		if err != nil {
			fmt.Fprintln(stderr, "parley loadtest:", err)
			return exitUsage
		}
		cfg.Speech = s
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	rep, err := loadtest.Run(ctx, cfg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "parley loadtest:", err)
		if errors.Is(err, loadtest.ErrInvalidConfig) {
			return exitUsage
		}
		return exitError
	}
	if err := rep.WriteTable(stdout); err != nil {
		fmt.Fprintln(stderr, err)
		return exitError
	}
	if *asJSON {
		if err := rep.WriteJSON(stdout); err != nil {
			fmt.Fprintln(stderr, err)
			return exitError
		}
	}
	if !rep.OK {
		return exitError
	}
	return exitOK
}
