// Package app wires Parley's components by hand from a loaded Config and
// runs them until the context ends, then drains. It is the only place that
// knows every component; main only parses flags and signals.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/parleyhq/parley/server/internal/auth"
	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/httpapi"
	"github.com/parleyhq/parley/server/internal/pluginhost"
	"github.com/parleyhq/parley/server/internal/protocol/parleyv1"
	"github.com/parleyhq/parley/server/internal/ratelimit"
	"github.com/parleyhq/parley/server/internal/recording"
	"github.com/parleyhq/parley/server/internal/session"
	"github.com/parleyhq/parley/server/internal/telemetry"
	"github.com/parleyhq/parley/server/internal/telemetry/tracing"
	"github.com/parleyhq/parley/server/internal/tlsconf"
	"github.com/parleyhq/parley/server/internal/tools"
	"github.com/parleyhq/parley/server/internal/tools/mcptools"
	rtransport "github.com/parleyhq/parley/server/internal/transport/realtime"
	"github.com/parleyhq/parley/server/internal/transport/telephony"
	"github.com/parleyhq/parley/server/internal/transport/webrtc"
	"github.com/parleyhq/parley/server/internal/transport/ws"
	"github.com/parleyhq/parley/server/internal/vad"
	"github.com/parleyhq/parley/server/internal/vad/silero"
	"github.com/parleyhq/parley/web"
)

// Routes served by the app (besides the probes httpapi serves).
const (
	PathVoiceWS = parleyv1.Path
	PathPlugins = "/v1/plugins"
)

// App is a configured Parley server.
type App struct {
	cfg     *config.Config
	logger  *slog.Logger
	version httpapi.VersionInfo
	// reload delivers SIGHUP: reload the config files' plugin sections
	// and the TLS certificate.
	reload <-chan os.Signal
	// paths are the config files the server started from, lowest first
	// (none: no config reload).
	paths []string
}

// Option configures an App.
type Option func(*App)

// WithReloadSignal makes the App reload its config files' plugin
// sections (see WithConfigFiles) and its TLS certificate on every value
// from ch (main wires SIGHUP).
func WithReloadSignal(ch <-chan os.Signal) Option { return func(a *App) { a.reload = ch } }

// WithConfigFiles names the config files cfg was loaded from, lowest
// first: a reload (SIGHUP, POST /v1/admin/reload, a file change with
// plugins.reload.watch) loads them again.
func WithConfigFiles(paths ...string) Option { return func(a *App) { a.paths = paths } }

// New returns an App for cfg.
func New(cfg *config.Config, version httpapi.VersionInfo, logger *slog.Logger, opts ...Option) *App {
	a := &App{cfg: cfg, logger: logger, version: version}
	for _, o := range opts {
		o(a)
	}
	return a
}

// Run serves on ln until ctx is done, then stops accepting, drains within
// the configured timeout and returns nil on a clean shutdown. Plugins start
// while the server already answers probes (/readyz is 503 until they run);
// a plugin that cannot start stops the server with an error naming it.
func (a *App) Run(ctx context.Context, ln net.Listener) error {
	cfg := a.cfg
	reg := telemetry.NewRegistry()
	guard := telemetry.NewMemoryGuard(cfg.Telemetry, reg, a.logger)

	traces, err := tracing.New(ctx, cfg.Telemetry.Tracing, a.version.Version)
	if err != nil {
		return err
	}
	// Deferred first, so it runs last: after the drain stopped the
	// sessions and the plugins, whose spans are then all ended.
	defer a.flushTraces(context.WithoutCancel(ctx), traces)
	newProber, closeVAD, err := a.vadEngine()
	if err != nil {
		return err
	}
	defer closeVAD()
	var hostOpts []pluginhost.Option
	if traces.Enabled() {
		hostOpts = append(hostOpts, pluginhost.WithTracing(pluginhost.Tracing{Provider: traces.TracerProvider(), Env: traces.PluginEnv}))
		a.logger.Info("tracing on", "protocol", string(cfg.Telemetry.Tracing.ExportProtocol),
			"sample_ratio", cfg.Telemetry.Tracing.SampleRatio, "include_content", cfg.Telemetry.Tracing.IncludeContent)
	}
	host, err := pluginhost.New(cfg.Plugins, cfg.Resilience, cfg.Pipeline, reg, a.logger, hostOpts...)
	if err != nil {
		return fmt.Errorf("plugins: %w", err)
	}
	mcpServers, err := a.mcpServers(reg)
	if err != nil {
		return err
	}
	gens, err := pluginhost.NewGenerations(host, reg, a.logger)
	if err != nil {
		return fmt.Errorf("plugins: %w", err)
	}
	node, closeNode, err := newClusterNode(cfg, a.version.Version, reg, a.logger)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	defer closeNode()
	mgrOpts := []session.Option{
		session.WithPluginSource(func() session.Lease {
			l := gens.Acquire()
			return session.Lease{
				Plugins:    session.Plugins{STT: l.STT(), LLM: l.LLM(), TTS: l.TTS()},
				Generation: l.Generation(), Release: l.Release,
			}
		}),
		session.WithHTTPClient(webhookClient()),
		session.WithServerTools(sources(mcpServers)...),
		session.WithRecovery(cfg.Resilience.STTRecoverTimeout, cfg.Resilience.TTSRecoverTimeout),
		session.WithTurnTaking(turnTaking(cfg.Turn)),
		session.WithVADProber(newProber),
	}
	if node != nil {
		// Cluster-wide caps after this node's own.
		mgrOpts = append(mgrOpts, session.WithAdmitter(node))
	}
	var recorder *recording.Store
	if cfg.Recording.Enabled {
		if recorder, err = recording.New(cfg.Recording, parleyv1.Encode, reg, a.logger); err != nil {
			return fmt.Errorf("recording: %w", err)
		}
		mgrOpts = append(mgrOpts, session.WithRecorder(recorder, cfg.Recording.Default == config.RecordOptOut))
	}
	if traces.Enabled() {
		mgrOpts = append(mgrOpts, session.WithTracing(sessionTracing(cfg, traces)))
	}
	mgr, err := session.NewManager(cfg.Session, cfg.VAD, cfg.Tools, session.Plugins{}, guard, reg, a.logger, mgrOpts...)
	if err != nil {
		return fmt.Errorf("sessions: %w", err)
	}
	voiceWS := ws.New(cfg.WebSocket, cfg.Auth, mgr, a.logger)
	realtimeWS := rtransport.New(cfg.WebSocket, cfg.Auth, mgr, a.logger)
	var voiceRTC *webrtc.Handler
	if cfg.WebRTC.Enabled {
		if voiceRTC, err = webrtc.New(cfg.WebRTC, mgr, a.logger); err != nil {
			return fmt.Errorf("webrtc: %w", err)
		}
		if err := voiceRTC.RegisterMetrics(reg); err != nil {
			return err
		}
	}

	var phone *telephony.Handler
	if cfg.Telephony.Enabled {
		if phone, err = telephony.New(cfg.Telephony, cfg.WebSocket, mgr, webhookClient(), reg, a.logger); err != nil {
			return fmt.Errorf("telephony: %w", err)
		}
	}

	var limiter ratelimit.Limiter
	if cfg.RateLimit.Enabled {
		l, closeLimiter := newLimiter(cfg)
		defer closeLimiter()
		limiter = l
	}
	ln, certs, err := a.secure(ln)
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	reload, err := newReloader(cfg, a.paths, gens, reg, a.logger)
	if err != nil {
		return err
	}
	var draining, quiesced atomic.Bool
	tokens := auth.New(cfg.Auth.Tokens, mgr.Clock())
	var verifier httpapi.TokenVerifier
	if tokens.Enabled() {
		verifier = tokens
	}
	if len(cfg.Auth.AdminKeys) == 0 {
		a.logger.Info("admin API off: set auth.admin_keys to list, end and drain sessions")
	}
	handler, err := httpapi.New(httpapi.Options{
		HTTP:     cfg.HTTP,
		Auth:     cfg.Auth,
		Limiter:  limiter,
		Gatherer: reg,
		Ready: func() []string {
			if draining.Load() {
				return []string{"server is draining"}
			}
			if quiesced.Load() {
				return []string{"not admitting new sessions (admin drain)"}
			}
			return gens.Ready()
		},
		Version: a.version,
		Logger:  a.logger,
		API: func(r chi.Router) {
			r.Get(PathPlugins, func(w http.ResponseWriter, _ *http.Request) {
				_, n := gens.Current()
				httpapi.WriteJSON(w, http.StatusOK, pluginsJSON{Generation: n, Generations: gens.Info(), Plugins: gens.Status()})
			})
		},
		Voice: func(r chi.Router) {
			r.Method(http.MethodGet, PathVoiceWS, voiceWS)
			r.Method(http.MethodGet, rtransport.Path, realtimeWS)
			if voiceRTC != nil {
				r.Group(func(r chi.Router) {
					if node != nil {
						// PATCH/DELETE of a session on another node go there.
						r.Use(node.Forward(localSession(mgr)))
					}
					voiceRTC.Routes(r)
				})
			}
		},
		Tokens: verifier,
		Admin: func(r chi.Router) {
			adminRoutes(mgr, node, func() {
				quiesced.Store(true)
				mgr.StopAdmitting()
				if node != nil {
					node.SetDraining()
				}
			}, reload)(r)
			clusterRoutes(node)(r)
		},
		Mint: tokenRoutes(tokens),
		Callbacks: func(r chi.Router) {
			if phone != nil {
				phone.Routes(r)
			}
		},
		Web:             web.Handler(),
		TLS:             cfg.HTTP.TLS.Enabled(),
		AdminClientCert: cfg.HTTP.TLS.ClientCAFile != "",
	})
	if err != nil {
		return fmt.Errorf("http: %w", err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(a.logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}

	g, gctx := errgroup.WithContext(runCtx)
	g.Go(func() error { return guard.Run(gctx) })
	if recorder != nil {
		g.Go(func() error { return recorder.Run(gctx) })
	}
	// The heartbeat outlives the run context: a draining node still
	// refreshes its sessions' entries until they ended.
	nodeCtx, cancelNode := context.WithCancel(context.WithoutCancel(ctx))
	nodeDone := make(chan struct{})
	// stopNode ends the heartbeat and waits for it.
	stopNode := func() {
		cancelNode()
		<-nodeDone
	}
	if node != nil {
		go func() {
			defer close(nodeDone)
			_ = node.Run(nodeCtx)
		}()
	} else {
		close(nodeDone)
	}
	defer stopNode()
	var certsHUP chan os.Signal
	if certs != nil {
		certsHUP = make(chan os.Signal, 1)
		g.Go(func() error { return certs.Run(gctx, certsHUP) })
	}
	if a.reload != nil {
		g.Go(func() error { return a.onSignal(gctx, reload, certsHUP) })
	}
	if cfg.Plugins.Reload.Watch {
		g.Go(func() error { return watchFiles(gctx, a.paths, reloadDebounce, reload, a.logger) })
	}
	if addr := cfg.Telemetry.PprofAddr; addr != "" {
		var lc net.ListenConfig
		pln, err := lc.Listen(runCtx, "tcp", addr)
		if err != nil {
			return fmt.Errorf("telemetry.pprof_addr: %w", err)
		}
		g.Go(func() error { return telemetry.ServePprof(gctx, pln, a.logger) })
	}
	g.Go(func() error {
		a.logger.Info("parley listening", "addr", ln.Addr().String(), "tls", certs != nil, "version", a.version.Version)
		if cfg.OpenToAnyone() {
			a.logger.Warn("serving without client authentication (auth.allow_anonymous): anyone who reaches this address "+
				"can talk to the agent and run up the provider bill; set auth.api_keys to require a key",
				"addr", cfg.HTTP.Addr)
		}
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http serve: %w", err)
		}
		return nil
	})
	for _, m := range mcpServers {
		g.Go(func() error {
			m.Start(gctx)
			return nil
		})
	}
	g.Go(func() error {
		if err := host.Start(gctx); err != nil {
			if gctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("plugins: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		draining.Store(true)
		if node != nil {
			node.SetDraining()
		}
		a.logger.Info("shutting down", "drain_timeout", cfg.HTTP.DrainTimeout, "shutdown_delay", cfg.HTTP.ShutdownDelay,
			"drain_mode", string(cfg.HTTP.DrainMode))
		err := a.drain(context.WithoutCancel(gctx), srv, mgr, voiceRTC, gens)
		if recorder != nil {
			// The sessions have ended: their recordings are being closed.
			wctx, cancel := context.WithTimeout(context.WithoutCancel(gctx), recordingCloseTimeout)
			if werr := recorder.Wait(wctx); werr != nil {
				err = errors.Join(err, werr)
			}
			cancel()
		}
		stopNode()
		leaveCluster(context.WithoutCancel(gctx), node, a.logger)
		for _, m := range mcpServers {
			if cerr := m.Close(); cerr != nil {
				a.logger.Warn("MCP server did not close cleanly", "mcp_server", m.Name(), "error", cerr)
			}
		}
		return err
	})
	return g.Wait()
}

// recordingCloseTimeout bounds the wait at shutdown for recordings to be
// written out and closed after their sessions ended.
const recordingCloseTimeout = 5 * time.Second

// mcpServers prepares the configured MCP tool servers (tools.mcp).
func (a *App) mcpServers(reg prometheus.Registerer) ([]*mcptools.Server, error) {
	if len(a.cfg.Tools.MCP) == 0 {
		return nil, nil
	}
	m, err := mcptools.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	out := make([]*mcptools.Server, 0, len(a.cfg.Tools.MCP))
	for _, c := range a.cfg.Tools.MCP {
		out = append(out, mcptools.New(c, a.version.Version, m, a.logger))
	}
	return out, nil
}

func sources(servers []*mcptools.Server) []tools.Source {
	out := make([]tools.Source, 0, len(servers))
	for _, s := range servers {
		out = append(out, s)
	}
	return out
}

// pluginsJSON is GET /v1/plugins: the generation new sessions get, every
// live generation with its session count, and every instance they run.
type pluginsJSON struct {
	Generation  int                         `json:"generation"`
	Generations []pluginhost.GenerationInfo `json:"generations"`
	Plugins     []pluginhost.Status         `json:"plugins"`
}

// onSignal handles SIGHUP until ctx ends: it hands the signal to the TLS
// certificate reloader (certs, nil without TLS) and reloads the config
// files' plugin sections.
func (a *App) onSignal(ctx context.Context, reload *reloader, certs chan<- os.Signal) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case sig := <-a.reload:
			if certs != nil {
				select {
				case certs <- sig:
				default: // a reload is pending already
				}
			}
			if _, err := reload.Reload(ctx, "signal"); errors.Is(err, ErrReloadUnavailable) {
				a.logger.Info("SIGHUP: no config files to reload")
			}
		}
	}
}

// secure wraps ln in TLS when http.tls is configured and returns the
// certificate reloader (nil without TLS).
func (a *App) secure(ln net.Listener) (net.Listener, *tlsconf.Reloader, error) {
	if !a.cfg.HTTP.TLS.Enabled() {
		return ln, nil, nil
	}
	certs, err := tlsconf.NewReloader(a.cfg.HTTP.TLS, a.logger)
	if err != nil {
		return nil, nil, err
	}
	tc, err := tlsconf.ServerConfig(a.cfg.HTTP.TLS, certs)
	if err != nil {
		return nil, nil, err
	}
	return tls.NewListener(ln, tc), certs, nil
}

// drain ends sessions (WebSockets are hijacked, so Shutdown alone would not
// wait for them), releases WebRTC peers, stops accepting and waits for in-flight requests, then
// stops the plugins — all bounded by the drain timeout. ctx must not be
// the (already cancelled) run context.
func (a *App) drain(ctx context.Context, srv *http.Server, mgr *session.Manager, rtc *webrtc.Handler, host *pluginhost.Generations) error {
	start := time.Now()
	if d := a.cfg.HTTP.ShutdownDelay; d > 0 {
		// /readyz is 503 already; new sessions are still admitted until
		// the load balancers have noticed.
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	bound := a.cfg.HTTP.DrainTimeout
	if a.cfg.HTTP.DrainMode == config.DrainWait {
		mgr.StopAdmitting()
		wctx, cancel := context.WithTimeout(ctx, a.cfg.HTTP.DrainTimeout)
		err := mgr.Wait(wctx)
		cancel()
		if err != nil {
			a.logger.Info("drain timeout reached: ending the sessions still running", "running", mgr.Count())
		} else {
			a.logger.Info("every session ended by itself", "took", time.Since(start))
		}
		bound = drainCloseGrace
	}
	dctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	var errs []error
	if err := mgr.Drain(dctx); err != nil {
		errs = append(errs, err)
	}
	if rtc != nil {
		if err := rtc.Close(dctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := srv.Shutdown(dctx); err != nil {
		_ = srv.Close()
		errs = append(errs, fmt.Errorf("http shutdown: %w", err))
	}
	if err := host.Close(dctx); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("drain: %w", errors.Join(errs...))
	}
	a.logger.Info("drained", "took", time.Since(start))
	return nil
}

// traceFlushTimeout bounds the export of the spans still buffered at exit.
const traceFlushTimeout = 5 * time.Second

// flushTraces exports the buffered spans and stops the exporter; a
// collector that does not answer in time loses them (logged).
// ctx must outlive the run context (the run is over when this runs).
func (a *App) flushTraces(ctx context.Context, p *tracing.Provider) {
	ctx, cancel := context.WithTimeout(ctx, traceFlushTimeout)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		a.logger.Warn("traces not all exported", "error", err)
	}
}

// sessionTracing is the sessions' tracing: the server's tracer and, for
// the llm spans, the pipeline's first LLM (its instance name and the
// model its settings name; the plugin's own span says which served).
func sessionTracing(cfg *config.Config, p *tracing.Provider) session.Tracing {
	t := session.Tracing{Tracer: p.Tracer(), IncludeContent: p.IncludeContent()}
	if len(cfg.Pipeline.LLM) == 0 {
		return t
	}
	t.LLMSystem = cfg.Pipeline.LLM[0]
	for _, in := range cfg.Plugins.Instances {
		if in.Name == t.LLMSystem {
			if m, ok := in.Config["model"].(string); ok {
				t.LLMModel = m
			}
		}
	}
	return t
}

// drainCloseGrace bounds the rest of a drain_mode wait shutdown once the
// sessions ended or drain_timeout passed: closing what is left, in-flight
// requests, the plugins.
const drainCloseGrace = 10 * time.Second

// Webhook connection limits: tools are few, calls short; each tool's own
// timeout bounds a call.
const (
	webhookIdleConns   = 16
	webhookIdleTimeout = 90 * time.Second
	webhookDialTimeout = 5 * time.Second
)

// webhookClient is the HTTP client of webhook tools: its own connection
// pool rather than http.DefaultClient's, proxy from the environment.
func webhookClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: webhookDialTimeout}).DialContext,
		MaxIdleConns:        webhookIdleConns,
		IdleConnTimeout:     webhookIdleTimeout,
		TLSHandshakeTimeout: webhookDialTimeout,
		ForceAttemptHTTP2:   true,
	}}
}

// newLimiter builds the configured rate limiter and its cleanup.
func newLimiter(cfg *config.Config) (ratelimit.Limiter, func()) {
	if cfg.RateLimit.Backend == config.RateLimitRedis {
		client := redis.NewClient(&redis.Options{
			Addr:     cfg.Redis.Addr,
			Password: cfg.Redis.Password,
			DB:       cfg.Redis.DB,
		})
		return ratelimit.NewRedis(cfg.RateLimit, client, cfg.Redis.KeyPrefix), func() { _ = client.Close() }
	}
	return ratelimit.NewMemory(cfg.RateLimit, nil), func() {}
}

// turnTaking is the session's turn-taking from the turn.* settings.
func turnTaking(t config.Turn) session.TurnTaking {
	d := session.SilenceDetector()
	if t.Detector == config.DetectorRules {
		d = session.RulesDetector()
	}
	return session.TurnTaking{
		Detector: d, CompleteDelay: t.CompleteDelay, IncompleteDelay: t.IncompleteDelay, PauseAfter: t.PauseAfter, SpeechHang: t.SpeechHang, MaxEndpointDelay: t.MaxEndpointDelay, Preemptive: t.Preemptive,
		MinInterruptionWords: t.MinInterruptionWords, Backchannels: t.Backchannels,
		ResumeFalseInterruption: t.ResumeFalseInterruption, FalseInterruptionTimeout: t.FalseInterruptionTimeout,
	}
}

// vadEngine starts the shared Silero engine when vad.engine is silero: it
// returns what gives every session a stream of it (nil for the energy
// engine) and the func that stops it once the sessions are gone. A missing
// or broken model or library stops the start-up with an error naming the
// key and the path.
func (a *App) vadEngine() (func() vad.Prober, func(), error) {
	if a.cfg.VAD.Engine != config.VADSilero {
		return nil, func() {}, nil
	}
	e, err := silero.New(a.cfg.VAD, a.logger)
	if err != nil {
		return nil, nil, fmt.Errorf("vad: %w", err)
	}
	a.logger.Info("vad engine silero loaded", "model_path", a.cfg.VAD.ModelPath, "onnxruntime_path", a.cfg.VAD.ONNXRuntimePath)
	stop := func() {
		if err := e.Close(); err != nil {
			a.logger.Warn("vad engine close", "error", err)
		}
	}
	return func() vad.Prober { return e.NewStream() }, stop, nil
}
