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
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/config"
)

// Host owns the plugin processes of one configuration.
type Host struct {
	logger    *slog.Logger
	instances []*instance
	stt       *sttChain
	llm       *llmChain
	tts       *ttsChain

	mu      sync.Mutex
	started bool
	closed  bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// New checks the configuration and prepares a Host; no process starts
// until Start. Metrics are registered on reg (nil: not exported).
func New(cfg config.Plugins, res config.Resilience, pipeline config.Pipeline, reg prometheus.Registerer, logger *slog.Logger) (*Host, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	h := &Host{logger: logger}
	byName := make(map[string]*instance, len(cfg.Instances))
	for _, ic := range cfg.Instances {
		if _, dup := byName[ic.Name]; dup {
			return nil, fmt.Errorf("%w: plugin name %q used twice", ErrInvalidConfig, ic.Name)
		}
		in, err := newInstance(ic, cfg, res, m, logger)
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
	h.stt, h.llm, h.tts = &sttChain{stt}, &llmChain{llm}, &ttsChain{tts}
	return h, nil
}

// Start launches every configured plugin concurrently (handshake, Info,
// Configure) and starts supervising them. If any fails, all are stopped and
// the error names each plugin that failed. ctx bounds only the start-up
// wait; supervision runs until Close. Each plugin's own start is bounded by
// its start timeout.
func (h *Host) Start(ctx context.Context) error {
	h.mu.Lock()
	if h.started || h.closed {
		h.mu.Unlock()
		return fmt.Errorf("pluginhost: start: %w (started twice or closed)", ErrNotStarted)
	}
	h.started = true
	// Supervision outlives Start's ctx (it ends in Close) but keeps its values.
	superCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	h.cancel = cancel
	h.mu.Unlock()

	results := make(chan error, len(h.instances))
	for _, in := range h.instances {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			in.supervise(superCtx, results)
		}()
	}
	var errs []error
	for range h.instances {
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
		cancel()
		h.wg.Wait()
		return errors.Join(errs...)
	}
	h.logger.Info("plugins started", "count", len(h.instances))
	return nil
}

// Close stops supervision and every plugin process and waits for them to
// exit, or until ctx is done. Calling it again does nothing.
func (h *Host) Close(ctx context.Context) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	cancel := h.cancel
	h.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("pluginhost: close: plugins still stopping: %w", ctx.Err())
	}
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
