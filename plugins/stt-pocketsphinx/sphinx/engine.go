// Package sphinx is Parley's offline speech-to-text engine: an sdk.STT built
// on CMU pocketsphinx (cgo, Debian's libpocketsphinx 0.8) with a bounded
// pool of warm decoders shared by all streams.
package sphinx

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/parleyhq/parley/sdk"
)

// Identity and audio format of the plugin.
const (
	// Name is the plugin's name in Info.
	Name = "stt-pocketsphinx"
	// Version is the plugin's version in Info.
	Version = "0.1.0"
	// SampleRate is the only sample rate accepted, in Hz; the host resamples.
	SampleRate = 16000
	// bytesPerSample is the size of one PCM16 sample.
	bytesPerSample = 2
)

// Capabilities advertised in Info.
const (
	// CapabilityStreaming says audio is recognised while it arrives.
	CapabilityStreaming = "streaming"
	// CapabilityInterimResults says partial hypotheses are emitted.
	CapabilityInterimResults = "interim_results"
	// CapabilityOffline says no network is used.
	CapabilityOffline = "offline"
)

// Engine is the pocketsphinx STT plugin. It is safe for concurrent use.
type Engine struct {
	logger *slog.Logger
	// configureMu serialises Configure calls, which take seconds.
	configureMu sync.Mutex

	mu       sync.Mutex
	settings Settings
	pool     *pool
	closed   bool
	// streams counts running stream workers, for Close.
	streams sync.WaitGroup

	inits atomic.Int64
}

var _ sdk.STT = (*Engine)(nil)

// New returns an engine that loads no model until Configure (or the first
// Transcribe, which configures the defaults).
func New(logger *slog.Logger) *Engine {
	return &Engine{logger: logger}
}

// Info describes the plugin.
func (e *Engine) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{
		Name:         Name,
		Version:      Version,
		Kind:         sdk.KindSTT,
		Capabilities: []string{CapabilityStreaming, CapabilityInterimResults, CapabilityOffline},
		AudioFormats: []sdk.AudioFormat{{Encoding: sdk.EncodingPCM16LE, SampleRate: SampleRate, Channels: 1}},
	}, nil
}

// Configure validates the JSON settings and warms a new decoder pool. The
// previous pool is retired: its idle decoders are freed at once, its busy
// ones when their streams end. Settings that need the same decoders as the
// current ones only update the pool-independent fields.
func (e *Engine) Configure(ctx context.Context, raw json.RawMessage) error {
	s, err := ParseSettings(raw)
	if err != nil {
		return err
	}
	return e.apply(ctx, s)
}

func (e *Engine) apply(ctx context.Context, s Settings) error {
	e.configureMu.Lock()
	defer e.configureMu.Unlock()
	return e.applyLocked(ctx, s)
}

// applyLocked is apply with configureMu held.
func (e *Engine) applyLocked(ctx context.Context, s Settings) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return sdk.Errorf(sdk.CodeUnavailable, "pocketsphinx plugin is shutting down")
	}
	if e.pool != nil && e.settings.sameDecoder(s) && e.settings.PoolSize == s.PoolSize {
		e.settings = s
		e.mu.Unlock()
		return nil
	}
	e.mu.Unlock()

	p, err := newPool(ctx, s, e.logger, func() { e.inits.Add(1) })
	if err != nil {
		return err
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		p.close()
		return sdk.Errorf(sdk.CodeUnavailable, "pocketsphinx plugin is shutting down")
	}
	old := e.pool
	e.settings, e.pool = s, p
	if old != nil {
		old.close()
	}
	return nil
}

// current returns the pool and settings in use, configuring the defaults
// on first use.
func (e *Engine) current(ctx context.Context) (*pool, Settings, error) {
	e.mu.Lock()
	p, s, closed := e.pool, e.settings, e.closed
	e.mu.Unlock()
	switch {
	case closed:
		return nil, Settings{}, sdk.Errorf(sdk.CodeUnavailable, "pocketsphinx plugin is shutting down")
	case p != nil:
		return p, s, nil
	}
	if err := e.configureDefaults(ctx); err != nil {
		return nil, Settings{}, fmt.Errorf("configuring defaults: %w", err)
	}
	return e.current(ctx)
}

// configureDefaults applies the default settings unless a Configure call
// got there first.
func (e *Engine) configureDefaults(ctx context.Context) error {
	e.configureMu.Lock()
	defer e.configureMu.Unlock()
	e.mu.Lock()
	configured := e.pool != nil
	e.mu.Unlock()
	if configured {
		return nil
	}
	return e.applyLocked(ctx, DefaultSettings())
}

// Transcribe opens a recognition stream on a pooled decoder. It waits up to
// the acquire_wait setting for a free decoder and then fails with
// ResourceExhausted.
func (e *Engine) Transcribe(ctx context.Context, cfg sdk.STTConfig) (sdk.STTStream, error) {
	p, s, err := e.current(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkConfig(cfg, s); err != nil {
		return nil, err
	}
	d, err := p.acquire(ctx, s.AcquireWait)
	if err != nil {
		return nil, err
	}
	// A session's next stream goes on from the mean its last one learnt;
	// a new session starts from the decoder's own.
	if st, ok := p.callers.recall(cfg.SessionID); ok {
		d.setCMN(st)
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		p.release(d)
		return nil, sdk.Errorf(sdk.CodeUnavailable, "pocketsphinx plugin is shutting down")
	}
	e.streams.Add(1)
	e.mu.Unlock()

	st := newStream(ctx, cfg.InterimResults, s.PartialInterval)
	go func() {
		defer e.streams.Done()
		st.run(d, func(d *decoder) {
			if cfg.SessionID != "" {
				p.callers.remember(cfg.SessionID, d.cmn())
			}
			p.release(d)
		})
	}()
	return st, nil
}

// checkConfig validates a stream's configuration against the settings.
func checkConfig(cfg sdk.STTConfig, s Settings) error {
	if cfg.SampleRate != SampleRate {
		return sdk.InvalidField("sample_rate", "only %d Hz is supported, got %d", SampleRate, cfg.SampleRate)
	}
	if cfg.Encoding != "" && cfg.Encoding != sdk.EncodingPCM16LE {
		return sdk.InvalidField("encoding", "only %s is supported, got %q", sdk.EncodingPCM16LE, cfg.Encoding)
	}
	if cfg.Language != "" && !sameLanguage(cfg.Language, s.Language) {
		return sdk.InvalidField(fieldLanguage, "the models recognise %s, got %q", s.Language, cfg.Language)
	}
	return nil
}

// sameLanguage compares the primary subtags of two BCP 47 tags ("en-GB"
// and "en-US" are both English).
func sameLanguage(a, b string) bool {
	primary := func(t string) string {
		t, _, _ = strings.Cut(strings.ReplaceAll(t, "_", "-"), "-")
		return strings.ToLower(t)
	}
	return primary(a) == primary(b)
}

// Close stops accepting streams, waits for running streams to end (they end
// with their context or after CloseSend) and frees every decoder.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	p := e.pool
	e.mu.Unlock()
	e.streams.Wait()
	if p != nil {
		p.close()
	}
	return nil
}
