package pluginhost

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	plugin "github.com/hashicorp/go-plugin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/parleyhq/parley/sdk"
	sdktracing "github.com/parleyhq/parley/sdk/tracing"
	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/resilience"
)

// Tunables used when the configuration leaves a value zero.
const (
	defaultStartTimeout   = 10 * time.Second
	defaultHealthInterval = 5 * time.Second
	defaultRestartInitial = 100 * time.Millisecond
	defaultRestartMax     = 10 * time.Second
	// stopGrace bounds a graceful stop before the process is SIGKILLed.
	stopGrace = 3 * time.Second
	// outcomePingTimeout bounds the health call that tells a dead plugin
	// from one that reports Unavailable itself (see instance.outcome).
	outcomePingTimeout = 250 * time.Millisecond
	// restartMultiplier grows the restart backoff per recent restart.
	restartMultiplier = 2
)

// State is the lifecycle state of a plugin instance.
type State string

// The plugin states.
const (
	// StateStarting: the first launch is in progress.
	StateStarting State = "starting"
	// StateRunning: the process is up, configured and answering health checks.
	StateRunning State = "running"
	// StateRestarting: the process died or stopped answering; a new one is
	// being started after a backoff.
	StateRestarting State = "restarting"
	// StateFailed: the plugin could not be started, or crashed more often
	// than its restart policy allows; it stays down.
	StateFailed State = "failed"
	// StateStopped: the host was closed.
	StateStopped State = "stopped"
)

// Status is what GET /v1/plugins shows for one plugin instance.
type Status struct {
	Name      string            `json:"name"`
	Kind      config.PluginKind `json:"kind"`
	State     State             `json:"state"`
	PID       int               `json:"pid,omitempty"`
	Restarts  int               `json:"restarts"`
	LastError string            `json:"last_error,omitempty"`
	// Breaker is the circuit breaker state: closed, half-open or open.
	Breaker string `json:"breaker"`
	// Version is the plugin's own version from Info.
	Version string `json:"version,omitempty"`
	// Generation is the newest plugin generation (configuration, see
	// Generations) using the instance; Generations lists all of them (an
	// instance carried over by a reload serves several).
	Generation  int   `json:"generation,omitempty"`
	Generations []int `json:"generations,omitempty"`
}

// generation is one running process of an instance. Calls hold on to the
// generation they were opened on, so a crash is recognised as such even
// after a new process took over.
type generation struct {
	client *plugin.Client
	cmd    *exec.Cmd
	conn   *grpc.ClientConn
	stt    sdk.STT
	llm    sdk.LLM
	tts    sdk.TTS
	info   sdk.Info
	pid    int

	dead     chan struct{}
	deadOnce sync.Once
}

// markDead records that the process is gone or being stopped.
func (g *generation) markDead() { g.deadOnce.Do(func() { close(g.dead) }) }

// isDead reports whether the process is gone or being stopped.
func (g *generation) isDead() bool {
	select {
	case <-g.dead:
		return true
	default:
		return g.client != nil && g.client.Exited()
	}
}

// stop marks the generation dead and stops its process, waiting for it to
// exit. Graceful asks the plugin to shut down first (go-plugin waits up to
// 2 s for that); otherwise — a crashed or hung process — it is SIGKILLed at
// once. Either way a process that has not exited after stopGrace is
// SIGKILLed: go-plugin's shutdown call has no deadline of its own and would
// wait forever on a frozen process.
func (g *generation) stop(graceful bool) {
	g.markDead()
	if !graceful {
		g.forceKill()
	}
	done := make(chan struct{})
	go func() {
		g.client.Kill()
		close(done)
	}()
	t := time.NewTimer(stopGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		g.forceKill()
		<-done
	}
}

// forceKill SIGKILLs the process. os.Process tracks the child (by pidfd on
// Linux), so a process already reaped is not confused with a new one that
// reused its pid.
func (g *generation) forceKill() {
	if g.cmd != nil && g.cmd.Process != nil {
		_ = g.cmd.Process.Kill()
	}
}

// instance is one configured plugin process and its supervisor.
type instance struct {
	name           string
	kind           config.PluginKind
	cfg            config.Instance
	env            []string
	dialOpts       []grpc.DialOption
	checksum       []byte
	settings       json.RawMessage
	startTimeout   time.Duration
	healthInterval time.Duration
	restart        config.Restart
	logger         *slog.Logger
	metrics        *metrics
	breaker        *resilience.Breaker

	// key identifies what the instance runs (see identity): a successor
	// Host carries over an instance whose key did not change.
	key string
	// shadowed is set once a newer instance of the same name took over
	// the name's gauges (a reload replaced this one; it only drains).
	shadowed atomic.Bool
	// stopSupervise and supervised end and track the supervisor
	// goroutine; set by run.
	stopSupervise context.CancelFunc
	supervised    chan struct{}

	mu           sync.Mutex
	state        State
	gen          *generation
	restarts     int
	restartTimes []time.Time
	lastErr      string
	version      string
	// refs counts the Hosts (configuration generations) using the
	// instance; the last to let go stops it.
	refs int
}

func newInstance(cfg config.Instance, plugins config.Plugins, res config.Resilience, m *metrics, tr Tracing, logger *slog.Logger) (*instance, error) {
	if cfg.Name == "" {
		return nil, fmt.Errorf("%w: a plugin instance has no name", ErrInvalidConfig)
	}
	switch cfg.Kind {
	case config.KindSTT, config.KindLLM, config.KindTTS:
	default:
		return nil, fmt.Errorf("%w: plugin %s: unknown kind %q", ErrInvalidConfig, cfg.Name, cfg.Kind)
	}
	if cfg.Path == "" {
		return nil, fmt.Errorf("%w: plugin %s: no path", ErrInvalidConfig, cfg.Name)
	}
	in := &instance{
		name:           cfg.Name,
		kind:           cfg.Kind,
		cfg:            cfg,
		startTimeout:   firstPositive(cfg.StartTimeout, plugins.DefaultStartTimeout, defaultStartTimeout),
		healthInterval: firstPositive(plugins.HealthInterval, defaultHealthInterval),
		restart:        cfg.Restart,
		logger:         logger.With("plugin", cfg.Name, "kind", string(cfg.Kind)),
		metrics:        m,
		state:          StateStarting,
	}
	if in.restart == (config.Restart{}) {
		in.restart = plugins.DefaultRestart
	}
	in.restart.InitialBackoff = firstPositive(in.restart.InitialBackoff, defaultRestartInitial)
	in.restart.MaxBackoff = firstPositive(in.restart.MaxBackoff, defaultRestartMax)
	if cfg.SHA256 != "" {
		sum, err := hex.DecodeString(cfg.SHA256)
		if err != nil || len(sum) != sha256.Size {
			return nil, fmt.Errorf("%w: plugin %s: sha256 %q is not 64 hex digits", ErrInvalidConfig, cfg.Name, cfg.SHA256)
		}
		in.checksum = sum
	}
	settings := cfg.Config
	if settings == nil {
		settings = map[string]any{}
	}
	raw, err := json.Marshal(settings)
	if err != nil {
		return nil, fmt.Errorf("%w: plugin %s: config is not JSON: %w", ErrInvalidConfig, cfg.Name, err)
	}
	in.settings = raw
	// Only the variables the instance names reach the plugin (SkipHostEnv):
	// no PATH or HOME either, so nothing of the host leaks by default. A
	// plugin that runs helper programs lists PATH in its env.
	for _, k := range cfg.Env {
		if v, ok := cfg.EnvValues[k]; ok {
			in.env = append(in.env, k+"="+v)
		}
	}
	// With tracing, the OTLP settings too (after the instance's own: the
	// last of a name wins), and the gRPC handler that sends the trace.
	in.dialOpts = sdk.DialOptions()
	if tr.Provider != nil {
		in.dialOpts = append(in.dialOpts, sdktracing.DialOption(tr.Provider))
	}
	if tr.Env != nil {
		in.env = append(in.env, tr.Env(cfg.Name)...)
	}
	in.breaker = resilience.NewBreaker(cfg.Name, res.Breaker, func(_ string, from, to gobreaker.State) {
		in.setGauge(m.breaker, breakerValue(to))
		in.logger.Warn("plugin breaker state changed", "from", from.String(), "to", to.String())
	})
	in.key = identity(in, cfg, res.Breaker)
	return in, nil
}

// identity is the key of what an instance runs: its name, kind, binary
// (the pinned checksum, or the file's current one), arguments,
// environment, settings, start timeout, health interval, restart policy
// and breaker. Two instances with the same identity are interchangeable,
// so a reload carries the running one over.
func identity(in *instance, cfg config.Instance, breaker config.Breaker) string {
	binary := cfg.SHA256
	if binary == "" {
		binary = fileSHA256(cfg.Path)
	}
	raw, _ := json.Marshal(struct { //nolint:errchkjson // plain strings, durations and maps of strings.
		Name, Kind, Path, Binary string
		Args, Env                []string
		Settings                 json.RawMessage
		Start, Health            time.Duration
		Restart                  config.Restart
		Breaker                  config.Breaker
	}{
		in.name, string(in.kind), cfg.Path, binary, cfg.Args, in.env, in.settings,
		in.startTimeout, in.healthInterval, in.restart, breaker,
	})
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// publish sets the instance's metrics to their starting values; called
// when its supervisor starts.
func (in *instance) publish() {
	in.setGauge(in.metrics.up, 0)
	in.setGauge(in.metrics.breaker, 0)
	in.metrics.restarts.WithLabelValues(in.name).Add(0)
}

// setGauge sets the instance's value of g unless a newer instance of the
// same name reports it.
func (in *instance) setGauge(g *prometheus.GaugeVec, v float64) {
	if !in.shadowed.Load() {
		g.WithLabelValues(in.name).Set(v)
	}
}

// run starts the supervisor (see supervise) in its own goroutine, with a
// lifetime of its own: it ends when stop is called, not with ctx, whose
// values it keeps.
func (in *instance) run(ctx context.Context, started chan<- error) {
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	in.stopSupervise = cancel
	in.supervised = make(chan struct{})
	in.publish()
	go func() {
		defer close(in.supervised)
		in.supervise(sctx, started)
	}()
}

// retain records one more Host using the instance.
func (in *instance) retain() {
	in.mu.Lock()
	in.refs++
	in.mu.Unlock()
}

// release records that a Host no longer uses the instance. When it was
// the last, the supervisor is told to stop the process, and release
// returns a channel closed once it did (nil otherwise, or when the
// instance never ran).
func (in *instance) release() <-chan struct{} {
	in.mu.Lock()
	in.refs--
	last := in.refs <= 0
	in.mu.Unlock()
	if !last || in.stopSupervise == nil {
		return nil
	}
	in.stopSupervise()
	return in.supervised
}

// live reports whether the instance is worth carrying over: it has not
// failed for good or stopped.
func (in *instance) live() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.state != StateFailed && in.state != StateStopped && in.refs > 0
}

func firstPositive(ds ...time.Duration) time.Duration {
	for _, d := range ds {
		if d > 0 {
			return d
		}
	}
	return 0
}

// supervise runs for the instance's whole life: it launches the plugin,
// reports the first launch's outcome on started, then watches the process
// and restarts it after crashes until ctx is done, when it stops the
// process. It locks its OS thread for good: every process of the instance
// is forked from this thread, and Pdeathsig kills the process when the
// thread ends — which happens only when supervise returns (after it
// stopped the process) or Parley dies.
func (in *instance) supervise(ctx context.Context, started chan<- error) {
	runtime.LockOSThread()
	gen, err := in.launch(ctx)
	if err != nil {
		in.setFailed(err)
		started <- err
		return
	}
	in.setRunning(gen)
	started <- nil
	for {
		werr := in.watch(ctx, gen)
		if ctx.Err() != nil {
			gen.stop(true)
			in.setStopped()
			return
		}
		in.logger.Warn("plugin down, restarting", "pid", gen.pid, "error", werr)
		gen.markDead()
		in.setDown(werr)
		gen.stop(false)
		gen = in.relaunch(ctx)
		if gen == nil {
			return
		}
	}
}

// relaunch starts a new process after a backoff, retrying until it runs, ctx
// is done (nil) or the restart policy gives up (nil, state failed).
func (in *instance) relaunch(ctx context.Context) *generation {
	for {
		now := time.Now()
		recent := in.recentRestarts(now)
		if in.restart.MaxRestarts > 0 && recent >= in.restart.MaxRestarts {
			err := fmt.Errorf("plugin %s: %d restarts within %s, giving up", in.name, recent, in.restart.Window)
			in.logger.Error("plugin restart limit reached", "error", err)
			in.setFailed(err)
			return nil
		}
		backoff := in.restart.InitialBackoff
		for range recent {
			backoff *= restartMultiplier
			if backoff >= in.restart.MaxBackoff {
				backoff = in.restart.MaxBackoff
				break
			}
		}
		if resilience.Wait(ctx, backoff) != nil {
			in.setStopped()
			return nil
		}
		in.recordRestart(time.Now())
		gen, err := in.launch(ctx)
		if ctx.Err() != nil {
			if gen != nil {
				gen.stop(true)
			}
			in.setStopped()
			return nil
		}
		if err != nil {
			in.logger.Warn("plugin restart failed", "error", err)
			in.setDown(err)
			continue
		}
		in.logger.Info("plugin restarted", "pid", gen.pid)
		in.setRunning(gen)
		return gen
	}
}

// launch starts one process: handshake, dispense, Info (kind check) and
// Configure. On failure nothing is left running. ctx bounds Info and
// Configure; the handshake is bounded by the start timeout.
func (in *instance) launch(ctx context.Context) (*generation, error) {
	// The process's life is managed by generation.stop (graceful first),
	// not by a context: cancelling ctx must not SIGKILL it behind our back.
	cmd := exec.CommandContext(context.WithoutCancel(ctx), in.cfg.Path, in.cfg.Args...)
	cmd.Env = append([]string(nil), in.env...)
	cmd.SysProcAttr = sysProcAttr()
	// dead is closed when Parley stops this process (generation.markDead),
	// which the log adapter needs before the generation exists.
	dead := make(chan struct{})
	stopping := func() bool {
		select {
		case <-dead:
			return true
		default:
			return ctx.Err() != nil
		}
	}
	var secure *plugin.SecureConfig
	if in.checksum != nil {
		secure = &plugin.SecureConfig{Checksum: in.checksum, Hash: sha256.New()}
	}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.HandshakeConfig(),
		VersionedPlugins: sdk.ClientPlugins(),
		Cmd:              cmd,
		SecureConfig:     secure,
		StartTimeout:     in.startTimeout,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SkipHostEnv:      true,
		Logger:           newHCLogAdapter(in.logger, "go-plugin", stopping),
		// Raised message limits and static flow-control windows (no BDP
		// pings waking both processes between paced audio frames).
		GRPCDialOptions: in.dialOpts,
	})
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		return nil, in.startError(err)
	}
	gen := &generation{client: client, cmd: cmd, dead: dead}
	if rc := client.ReattachConfig(); rc != nil {
		gen.pid = rc.Pid
	}
	if gc, ok := rpc.(*plugin.GRPCClient); ok {
		gen.conn = gc.Conn
	}
	if err := in.initialize(ctx, gen, rpc); err != nil {
		gen.stop(false)
		return nil, err
	}
	return gen, nil
}

// initialize dispenses the plugin, checks its kind and configures it.
func (in *instance) initialize(ctx context.Context, gen *generation, rpc plugin.ClientProtocol) error {
	raw, err := rpc.Dispense(string(in.kind))
	if err != nil {
		if errors.Is(err, &sdk.Error{Code: sdk.CodeUnimplemented}) || errors.Is(err, &sdk.Error{Code: sdk.CodeFailedPrecondition}) {
			return fmt.Errorf("plugin %s: %w (configured as %s): %w", in.name, ErrKindMismatch, in.kind, err)
		}
		return fmt.Errorf("plugin %s: dispense %s: %w", in.name, in.kind, err)
	}
	var p sdk.Plugin
	switch in.kind {
	case config.KindSTT:
		gen.stt, _ = raw.(sdk.STT)
		p = gen.stt
	case config.KindLLM:
		gen.llm, _ = raw.(sdk.LLM)
		p = gen.llm
	case config.KindTTS:
		gen.tts, _ = raw.(sdk.TTS)
		p = gen.tts
	}
	if p == nil {
		return fmt.Errorf("plugin %s: %w: dispensed %T is not an sdk %s", in.name, ErrKindMismatch, raw, in.kind)
	}
	ctx, cancel := context.WithTimeout(ctx, in.startTimeout)
	defer cancel()
	info, err := p.Info(ctx)
	if err != nil {
		return fmt.Errorf("plugin %s: info: %w", in.name, err)
	}
	if string(info.Kind) != string(in.kind) {
		return fmt.Errorf("plugin %s: %w: plugin %q reports kind %q, configured as %s",
			in.name, ErrKindMismatch, info.Name, info.Kind, in.kind)
	}
	gen.info = info
	if err := p.Configure(ctx, in.settings); err != nil {
		return fmt.Errorf("plugin %s: configure: %w", in.name, err)
	}
	return nil
}

// startError turns go-plugin's start errors, which are untyped, into
// errors that name the plugin and wrap this package's sentinels.
func (in *instance) startError(err error) error {
	msg := err.Error()
	switch {
	case errors.Is(err, plugin.ErrChecksumsDoNotMatch):
		return fmt.Errorf("plugin %s: %w: pinned %s, %s has %s", in.name, ErrChecksumMismatch,
			hex.EncodeToString(in.checksum), in.cfg.Path, fileSHA256(in.cfg.Path))
	case strings.Contains(msg, "incompatible API version"):
		// go-plugin's message names the plugin's version ("Plugin version: 2").
		return fmt.Errorf("plugin %s: %w: Parley speaks protocol version %d: %w",
			in.name, ErrProtocolVersion, sdk.ProtocolVersion, err)
	case strings.Contains(msg, "timeout while waiting for plugin to start"):
		return fmt.Errorf("plugin %s: %w: no handshake within %s: %w", in.name, ErrStartTimeout, in.startTimeout, err)
	default:
		return fmt.Errorf("plugin %s: start %s: %w", in.name, in.cfg.Path, err)
	}
}

// fileSHA256 returns the hex sha256 of the file at path, or why not.
func fileSHA256(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "unreadable (" + err.Error() + ")"
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "unreadable (" + err.Error() + ")"
	}
	return hex.EncodeToString(h.Sum(nil))
}

// watch returns when the process seems gone: a failed health check, or a
// connection state change confirmed by a failed health check. It returns
// ctx's error when ctx is done.
func (in *instance) watch(ctx context.Context, gen *generation) error {
	ticker := time.NewTicker(in.healthInterval)
	defer ticker.Stop()
	wctx, cancel := context.WithCancel(ctx)
	changed := make(chan struct{}, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	if gen.conn != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			watchConn(wctx, gen.conn, changed)
		}()
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		case <-changed:
		}
		if err := in.ping(ctx, gen); err != nil {
			return err
		}
	}
}

// watchConn signals changed whenever conn leaves the ready state, which is
// how a dead plugin process shows first (its socket closes).
func watchConn(ctx context.Context, conn *grpc.ClientConn, changed chan<- struct{}) {
	for {
		s := conn.GetState()
		if s != connectivity.Ready && s != connectivity.Connecting {
			select {
			case changed <- struct{}{}:
			default:
			}
		}
		if !conn.WaitForStateChange(ctx, s) {
			return
		}
	}
}

// ping checks the process is alive and answers gRPC health checks within
// the health interval. (go-plugin's ClientProtocol.Ping makes the same
// health call but without a deadline, so a hung plugin would hang it.)
func (in *instance) ping(ctx context.Context, gen *generation) error {
	if gen.client != nil && gen.client.Exited() {
		return errors.New("plugin process exited")
	}
	if gen.conn == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, in.healthInterval)
	defer cancel()
	_, err := healthpb.NewHealthClient(gen.conn).Check(ctx, &healthpb.HealthCheckRequest{Service: plugin.GRPCServiceName})
	if err != nil {
		if gen.client.Exited() {
			return fmt.Errorf("plugin process exited: %w", err)
		}
		return fmt.Errorf("health check: %w", err)
	}
	return nil
}

func (in *instance) recentRestarts(now time.Time) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.restart.Window <= 0 {
		return len(in.restartTimes)
	}
	keep := in.restartTimes[:0]
	for _, t := range in.restartTimes {
		if now.Sub(t) < in.restart.Window {
			keep = append(keep, t)
		}
	}
	in.restartTimes = keep
	return len(keep)
}

func (in *instance) recordRestart(now time.Time) {
	in.mu.Lock()
	in.restarts++
	in.restartTimes = append(in.restartTimes, now)
	in.mu.Unlock()
	in.metrics.restarts.WithLabelValues(in.name).Inc()
}

func (in *instance) setRunning(gen *generation) {
	in.mu.Lock()
	in.state = StateRunning
	in.gen = gen
	in.version = gen.info.Version
	in.mu.Unlock()
	in.setGauge(in.metrics.up, 1)
	if in.restart.Window <= 0 {
		// Without a window, "recent" restarts are those since the last
		// successful start, so the backoff resets once the plugin runs again.
		in.mu.Lock()
		in.restartTimes = in.restartTimes[:0]
		in.mu.Unlock()
	}
}

func (in *instance) setDown(err error) {
	in.mu.Lock()
	in.state = StateRestarting
	in.gen = nil
	in.lastErr = err.Error()
	in.mu.Unlock()
	in.setGauge(in.metrics.up, 0)
}

func (in *instance) setFailed(err error) {
	in.mu.Lock()
	in.state = StateFailed
	in.gen = nil
	in.lastErr = err.Error()
	in.mu.Unlock()
	in.setGauge(in.metrics.up, 0)
}

func (in *instance) setStopped() {
	in.mu.Lock()
	in.state = StateStopped
	in.gen = nil
	in.mu.Unlock()
	in.setGauge(in.metrics.up, 0)
}

// acquire returns the running generation, or an Unavailable *sdk.Error.
func (in *instance) acquire() (*generation, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.state == StateRunning && in.gen != nil {
		return in.gen, nil
	}
	return nil, &sdk.Error{
		Code:    sdk.CodeUnavailable,
		Message: fmt.Sprintf("plugin %s is %s", in.name, in.state),
		Details: map[string]string{"plugin": in.name},
	}
}

// status returns the instance's Status.
func (in *instance) status() Status {
	bs := in.breaker.State()
	in.setGauge(in.metrics.breaker, breakerValue(bs))
	in.mu.Lock()
	defer in.mu.Unlock()
	s := Status{
		Name:      in.name,
		Kind:      in.kind,
		State:     in.state,
		Restarts:  in.restarts,
		LastError: in.lastErr,
		Breaker:   bs.String(),
		Version:   in.version,
	}
	if in.gen != nil {
		s.PID = in.gen.pid
	}
	return s
}

// classify makes errors of calls on gen uniform: when the caller's context
// is done its error stands; when the process died under the call the error
// becomes Unavailable whatever gRPC said (a locally closed connection reads
// as Canceled, which would otherwise look like the caller's choice).
func (in *instance) classify(ctx context.Context, gen *generation, err error) error {
	if err == nil || errors.Is(err, io.EOF) || ctx.Err() != nil {
		return err
	}
	if gen != nil && gen.isDead() {
		return &sdk.Error{
			Code:    sdk.CodeUnavailable,
			Message: fmt.Sprintf("plugin %s stopped during the call", in.name),
			Details: map[string]string{"plugin": in.name},
			Err:     err,
		}
	}
	return err
}

// outcome is what the breaker hears about a call on gen that ended with
// err. A call cut short because the process died is not counted: the
// supervisor restarts the plugin, and a crash must not also hold the breaker
// open after the restart. The socket closes before go-plugin notices the
// exit, so an Unavailable error on a process not yet known dead is checked
// with a quick health call: only a plugin that still answers it is blamed.
func (in *instance) outcome(ctx context.Context, gen *generation, err error) error {
	if err == nil || gen == nil {
		return err
	}
	dead := gen.isDead()
	if !dead && sdk.CodeOf(err) == sdk.CodeUnavailable && ctx.Err() == nil {
		pctx, cancel := context.WithTimeout(ctx, outcomePingTimeout)
		dead = in.ping(pctx, gen) != nil && ctx.Err() == nil
		cancel()
	}
	if dead {
		return fmt.Errorf("%w: %w", resilience.ErrNotCounted, err)
	}
	return err
}

// countError records a failed call in the metrics.
func (in *instance) countError(err error) {
	code := string(sdk.CodeOf(err))
	if resilience.IsBreakerRejection(err) {
		code = "breaker_open"
	}
	in.metrics.callErrors.WithLabelValues(in.name, code).Inc()
}
