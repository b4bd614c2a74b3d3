// Package pluginhost runs Parley's STT, LLM and TTS plugins as separate
// processes over hashicorp/go-plugin (gRPC, AutoMTLS, pinned checksums, no
// host environment), supervises them (health checks, restart with backoff
// after a crash, Pdeathsig so none outlives Parley) and hands the session
// layer resilient sdk.STT, sdk.LLM and sdk.TTS values: each is the
// pipeline's chain of instances with a circuit breaker per instance, retry
// of failures that happen before any output, fallback to the next
// instance when one is unavailable or its breaker is open, and a
// first-output timeout per kind that cuts off a call that was accepted but
// says nothing (then falls back). Failures after the first output pass
// through; the session recovers from those (replay, resume).
//
// A Host is immutable after Start: a new configuration means a new Host.
package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/config"
)

// Host owns the plugin processes of one configuration. A reload builds a
// successor Host (Successor) that carries over the instances whose
// identity did not change; an instance stops when the last Host using it
// is closed.
type Host struct {
	logger  *slog.Logger
	metrics *metrics
	tracing Tracing
	// instances are the configured instances, in config order; fresh are
	// those this Host starts (the others were carried over from a
	// predecessor and are already running), shadows the predecessor's
	// instances that fresh ones replace under the same name.
	instances []*instance
	fresh     []*instance
	shadows   []*instance
	stt       *sttChain
	llm       *llmChain
	tts       *ttsChain

	mu      sync.Mutex
	started bool
	closed  bool
}

// New checks the configuration and prepares a Host; no process starts
// until Start. Metrics are registered on reg (nil: not exported).
func New(cfg config.Plugins, res config.Resilience, pipeline config.Pipeline, reg prometheus.Registerer, logger *slog.Logger, opts ...Option) (*Host, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return build(cfg, res, pipeline, m, o.tracing, logger, nil)
}

// Tracing carries the trace of a session into the plugin processes: calls
// made within a span get a gRPC client span whose context goes to the
// plugin in the call's metadata, and each process is started with Env's
// variables so that its own spans reach the same collector.
type Tracing struct {
	Provider trace.TracerProvider
	// Env returns the variables plugin name needs to export its spans.
	Env func(name string) []string
}

// Option configures a Host.
type Option func(*options)

type options struct{ tracing Tracing }

// WithTracing traces plugin calls (Tracing). Successors keep it.
func WithTracing(t Tracing) Option { return func(o *options) { o.tracing = t } }

// Successor prepares the Host of a new configuration: instances whose
// identity (name, binary, arguments, environment, settings, timeouts,
// restart policy and breaker) is unchanged and still running are carried
// over — the same process, not restarted — and the others are new and
// start with the successor's Start. h keeps running; Close the successor
// if it is not used (that leaves h's instances alone).
func (h *Host) Successor(cfg config.Plugins, res config.Resilience, pipeline config.Pipeline) (*Host, error) {
	return build(cfg, res, pipeline, h.metrics, h.tracing, h.logger, h.instances)
}

// build prepares a Host, carrying over the live instances of prev whose
// identity matches.
func build(cfg config.Plugins, res config.Resilience, pipeline config.Pipeline, m *metrics, tr Tracing, logger *slog.Logger, prev []*instance) (*Host, error) {
	h := &Host{logger: logger, metrics: m, tracing: tr}
	byName := make(map[string]*instance, len(cfg.Instances))
	for _, ic := range cfg.Instances {
		if _, dup := byName[ic.Name]; dup {
			return nil, fmt.Errorf("%w: plugin name %q used twice", ErrInvalidConfig, ic.Name)
		}
		in, err := newInstance(ic, cfg, res, m, tr, logger)
		if err != nil {
			return nil, err
		}
		byName[ic.Name] = in
		h.instances = append(h.instances, in)
	}
	build := func(kind config.PluginKind, names []string) (*chain, error) {
		c := &chain{kind: kind, retry: res.Retry, firstOutput: firstOutputOf(res.FirstOutput, kind), logger: logger}
		for _, name := range names {
			in, ok := byName[name]
			if !ok {
				return nil, fmt.Errorf("%w: pipeline.%s names %q", ErrUnknownPlugin, kind, name)
			}
			if in.kind != kind {
				return nil, fmt.Errorf("%w: pipeline.%s names %q, which is a %s plugin", ErrUnknownPlugin, kind, name, in.kind)
			}
			c.members = append(c.members, in)
		}
		return c, nil
	}
	// Only now, with the whole configuration checked, are running
	// instances taken over: a failed build must not hold references.
	for i, in := range h.instances {
		if old := carried(prev, in); old != nil {
			h.instances[i] = old
			byName[in.name] = old
			continue
		}
		h.fresh = append(h.fresh, in)
		for _, old := range prev {
			if old.name == in.name {
				h.shadows = append(h.shadows, old)
			}
		}
	}
	stt, err := build(config.KindSTT, pipeline.STT)
	if err != nil {
		return nil, err
	}
	llm, err := build(config.KindLLM, pipeline.LLM)
	if err != nil {
		return nil, err
	}
	tts, err := build(config.KindTTS, pipeline.TTS)
	if err != nil {
		return nil, err
	}
	for _, in := range h.instances {
		in.retain()
	}
	h.stt, h.llm, h.tts = &sttChain{stt}, &llmChain{llm}, &ttsChain{tts}
	return h, nil
}

// carried returns the live instance of prev that in may replace (same
// identity), or nil.
func carried(prev []*instance, in *instance) *instance {
	for _, old := range prev {
		if old.key == in.key && old.live() {
			return old
		}
	}
	return nil
}

// Start launches the Host's new plugins concurrently (handshake, Info,
// Configure) and starts supervising them; instances carried over from a
// predecessor already run. If any fails, the new ones are stopped again
// and the error names each plugin that failed. ctx bounds only the
// start-up wait; supervision runs until Close. Each plugin's own start is
// bounded by its start timeout.
func (h *Host) Start(ctx context.Context) error {
	h.mu.Lock()
	if h.started || h.closed {
		h.mu.Unlock()
		return fmt.Errorf("pluginhost: start: %w (started twice or closed)", ErrNotStarted)
	}
	h.started = true
	h.mu.Unlock()

	for _, old := range h.shadows {
		old.shadowed.Store(true)
	}
	results := make(chan error, len(h.fresh))
	for _, in := range h.fresh {
		in.run(ctx, results)
	}
	var errs []error
	for range h.fresh {
		select {
		case err := <-results:
			if err != nil {
				errs = append(errs, err)
			}
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("pluginhost: start: %w", ctx.Err()))
		}
		if ctx.Err() != nil {
			break
		}
	}
	if len(errs) > 0 {
		for _, in := range h.fresh {
			in.stopSupervise()
			<-in.supervised
		}
		h.unshadow()
		return errors.Join(errs...)
	}
	h.logger.Info("plugins started", "count", len(h.fresh), "carried_over", len(h.instances)-len(h.fresh))
	return nil
}

// unshadow hands the gauges of a name back to the predecessor's instance
// when its replacement did not start.
func (h *Host) unshadow() {
	for _, old := range h.shadows {
		old.shadowed.Store(false)
		s := old.status()
		up := 0.0
		if s.State == StateRunning {
			up = 1
		}
		old.setGauge(h.metrics.up, up)
	}
}

// Close lets go of every instance; those no other Host uses are stopped,
// and Close waits for their processes to exit, or until ctx is done.
// Calling it again does nothing.
func (h *Host) Close(ctx context.Context) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	started := h.started
	h.mu.Unlock()
	if !started {
		h.unshadow()
	}
	var stopping []<-chan struct{}
	for _, in := range h.instances {
		if done := in.release(); done != nil {
			stopping = append(stopping, done)
		}
	}
	for _, done := range stopping {
		select {
		case <-done:
		case <-ctx.Done():
			return fmt.Errorf("pluginhost: close: plugins still stopping: %w", ctx.Err())
		}
	}
	return nil
}

// STT returns the pipeline's speech-to-text chain.
func (h *Host) STT() sdk.STT { return h.stt }

// LLM returns the pipeline's language-model chain.
func (h *Host) LLM() sdk.LLM { return h.llm }

// TTS returns the pipeline's text-to-speech chain.
func (h *Host) TTS() sdk.TTS { return h.tts }

// Ready returns why the host is not ready: one reason per configured plugin
// that is not running, naming it and its state. It is empty when every
// configured plugin runs.
func (h *Host) Ready() []string {
	h.mu.Lock()
	started := h.started
	h.mu.Unlock()
	var reasons []string
	if !started {
		return []string{"plugin host not started"}
	}
	for _, in := range h.instances {
		s := in.status()
		if s.State == StateRunning {
			continue
		}
		r := fmt.Sprintf("plugin %s (%s) is %s", s.Name, s.Kind, s.State)
		if s.LastError != "" {
			r += ": " + s.LastError
		}
		reasons = append(reasons, r)
	}
	return reasons
}

// Status returns the state of every configured plugin, in config order.
func (h *Host) Status() []Status {
	out := make([]Status, 0, len(h.instances))
	for _, in := range h.instances {
		out = append(out, in.status())
	}
	return out
}

// Fresh names the instances this Host starts itself, in config order.
func (h *Host) Fresh() []string { return names(h.fresh) }

// CarriedOver names the instances this Host took over running from its
// predecessor, in config order.
func (h *Host) CarriedOver() []string {
	var out []*instance
	for _, in := range h.instances {
		if !slices.Contains(h.fresh, in) {
			out = append(out, in)
		}
	}
	return names(out)
}

func names(ins []*instance) []string {
	out := make([]string, 0, len(ins))
	for _, in := range ins {
		out = append(out, in.name)
	}
	return out
}
