package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleyhq/parley/server/internal/app"
	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/eval"
	"github.com/parleyhq/parley/server/internal/httpapi"
	"github.com/parleyhq/parley/server/internal/pluginhost"
	"github.com/parleyhq/parley/server/internal/telemetry"
)

// evalStartTimeout bounds the in-process server's and the TTS plugin's
// start.
const evalStartTimeout = 90 * time.Second

// evalCmd runs `parley eval [--url URL | --config FILE…] PATH…`: scripted
// conversations against a server (see server/internal/eval). Exit 0 when
// every scenario passed, 1 when one failed or none could run, 2 on usage.
func evalCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("parley eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: parley eval [--url URL | --config FILE...] [flags] PATH...\n"+
			"PATH: scenario files or folders of them (format: configs/evals/scenario.schema.json).\n"+
			"Without --url a server is started in this process from --config (default "+config.DefaultPath+").")
		fs.PrintDefaults()
	}
	url := fs.String("url", "", "run against this server (http(s)://host:port; its /ws/voice)")
	var paths, ttsPaths pathList
	fs.Var(&paths, "config", "start an in-process server from this configuration; repeat to layer overlays")
	fs.Var(&ttsPaths, "tts-config", "configuration whose pipeline.tts plugin voices say turns (default: the --config files)")
	token := fs.String("token", "", "API key or client token (default with --config: its first auth.api_keys entry)")
	jsonOut := fs.String("json", "", "write the report as JSON to this file")
	junitOut := fs.String("junit", "", "write the report as JUnit XML to this file")
	runner := eval.Runner{Progress: stderr}
	fs.DurationVar(&runner.TurnTimeout, "turn-timeout", eval.DefaultTurnTimeout, "wait for each reply")
	fs.DurationVar(&runner.Gap, "gap", eval.DefaultGap, "silence between a reply and the next turn")
	logLevel := fs.String("log-level", string(config.LevelWarn), "log level of the in-process server and the TTS plugin")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return exitUsage
	}
	if *url != "" && len(paths) > 0 {
		fmt.Fprintln(stderr, "parley eval: give --url or --config, not both")
		return exitUsage
	}
	level := config.LogLevel(*logLevel)
	if !slices.Contains([]config.LogLevel{config.LevelDebug, config.LevelInfo, config.LevelWarn, config.LevelError}, level) {
		fmt.Fprintf(stderr, "parley eval: --log-level %q: want debug, info, warn or error\n", *logLevel)
		return exitUsage
	}
	scenarios, err := eval.Load(fs.Args()...)
	if err != nil {
		fmt.Fprintln(stderr, "parley eval:", err)
		return exitUsage
	}
	logger := telemetry.NewLogger(stderr, config.Log{Level: level, Format: config.FormatJSON})
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	if *url == "" && len(paths) == 0 {
		paths = pathList{config.DefaultPath}
	}
	if len(ttsPaths) == 0 {
		ttsPaths = paths
	}
	if needsSpeech(scenarios) {
		if len(ttsPaths) == 0 {
			fmt.Fprintln(stderr, "parley eval: say turns need a TTS plugin: give --tts-config FILE")
			return exitUsage
		}
		speaker, closeTTS, err := startSpeaker(ctx, ttsPaths, logger)
		if err != nil {
			fmt.Fprintln(stderr, "parley eval:", err)
			return exitError
		}
		defer closeTTS()
		runner.Speaker = speaker
	}
	runner.URL, runner.Token = *url, *token
	if *url == "" {
		base, key, stopServer, err := startEvalServer(ctx, paths, logger)
		if err != nil {
			fmt.Fprintln(stderr, "parley eval:", err)
			return exitError
		}
		defer stopServer()
		runner.URL = base
		if runner.Token == "" {
			runner.Token = key
		}
	}
	rep, err := runner.Run(ctx, scenarios)
	if err != nil {
		fmt.Fprintln(stderr, "parley eval:", err)
		return exitError
	}
	if err := rep.WriteText(stdout); err != nil {
		fmt.Fprintln(stderr, err)
		return exitError
	}
	for _, out := range []struct {
		path  string
		write func(io.Writer) error
	}{{*jsonOut, rep.WriteJSON}, {*junitOut, rep.WriteJUnit}} {
		if out.path == "" {
			continue
		}
		if err := writeFile(out.path, out.write); err != nil {
			fmt.Fprintln(stderr, "parley eval:", err)
			return exitError
		}
	}
	if !rep.OK() {
		return exitError
	}
	return exitOK
}

func needsSpeech(scenarios []*eval.Scenario) bool {
	for _, sc := range scenarios {
		for _, t := range sc.Turns {
			if t.Say != "" {
				return true
			}
		}
	}
	return false
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// startSpeaker starts the TTS plugins of a configuration's pipeline.tts
// (and only those) for the eval's own voice.
func startSpeaker(ctx context.Context, paths []string, logger *slog.Logger) (eval.Speaker, func(), error) {
	cfg, err := config.Load(paths...)
	if err != nil {
		return nil, nil, err
	}
	if len(cfg.Pipeline.TTS) == 0 {
		return nil, nil, errors.New("the TTS configuration names no pipeline.tts plugin")
	}
	plugins := cfg.Plugins
	plugins.Instances = nil
	for _, in := range cfg.Plugins.Instances {
		if slices.Contains(cfg.Pipeline.TTS, in.Name) {
			plugins.Instances = append(plugins.Instances, in)
		}
	}
	host, err := pluginhost.New(plugins, cfg.Resilience, config.Pipeline{TTS: cfg.Pipeline.TTS}, prometheus.NewRegistry(), logger.With("part", "eval-tts"))
	if err != nil {
		return nil, nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, evalStartTimeout)
	defer cancel()
	if err := host.Start(sctx); err != nil {
		return nil, nil, fmt.Errorf("the eval's TTS plugin: %w", err)
	}
	// Closing must outlive a cancelled run (Ctrl-C): the plugins are stopped
	// either way, bounded.
	stopCtx := context.WithoutCancel(ctx)
	closeHost := func() {
		cctx, cancel := context.WithTimeout(stopCtx, 10*time.Second)
		defer cancel()
		_ = host.Close(cctx)
	}
	return eval.TTSSpeaker{TTS: host.TTS(), Voice: cfg.Session.Voice}, closeHost, nil
}

// startEvalServer runs Parley in this process on a loopback port from the
// configuration (TLS off: the eval is its only client) and waits until
// it is ready. It returns the base URL and the first API key, if any.
func startEvalServer(ctx context.Context, paths []string, logger *slog.Logger) (base, key string, stop func(), err error) {
	cfg, err := config.Load(paths...)
	if err != nil {
		return "", "", nil, err
	}
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.HTTP.TLS = config.TLS{}
	if len(cfg.Auth.APIKeys) > 0 {
		key = cfg.Auth.APIKeys[0]
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.HTTP.Addr)
	if err != nil {
		return "", "", nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	a := app.New(cfg, httpapi.VersionInfo{Version: version, Commit: commit}, logger.With("part", "eval-server"), app.WithConfigFiles(paths...))
	go func() { done <- a.Run(sctx, ln) }()
	stop = func() {
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				logger.Warn("the in-process server stopped with an error", "err", err)
			}
		case <-time.After(evalStartTimeout):
		}
	}
	base = "http://" + ln.Addr().String()
	if err := waitReady(ctx, base, done); err != nil {
		stop()
		return "", "", nil, err
	}
	return base, key, stop, nil
}

// waitReady polls /readyz until it answers 200, the server stops, or the
// start timeout passes.
func waitReady(ctx context.Context, base string, done <-chan error) error {
	ctx, cancel := context.WithTimeout(ctx, evalStartTimeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		if err != nil {
			return err
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-done:
			return fmt.Errorf("the in-process server stopped: %w", err)
		case <-ctx.Done():
			return fmt.Errorf("the in-process server was not ready within %s", evalStartTimeout)
		case <-tick.C:
		}
	}
}
