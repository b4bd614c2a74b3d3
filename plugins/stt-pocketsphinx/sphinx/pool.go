package sphinx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/parleyhq/parley/sdk"
)

// pool is a bounded set of warm decoders built from one Settings. Streams
// borrow a decoder for their whole life and give it back when they end.
type pool struct {
	settings Settings
	free     chan *decoder
	logger   *slog.Logger

	mu     sync.Mutex
	closed bool
	// lent counts decoders handed out and not yet returned.
	lent int
	// callers is what the decoders learnt of each session's voice and line.
	callers *callers
}

// newPool builds and warms settings.PoolSize decoders, one after the other
// (each takes about half a second). onInit is called after every decoder
// built, for counting.
func newPool(ctx context.Context, settings Settings, logger *slog.Logger, onInit func()) (*pool, error) {
	p := &pool{
		settings: settings,
		free:     make(chan *decoder, settings.PoolSize),
		logger:   logger,
		callers:  newCallers(maxCallers, callerIdle, time.Now),
	}
	args := settings.decoderArgs()
	start := time.Now()
	for range settings.PoolSize {
		if err := ctx.Err(); err != nil {
			p.close()
			return nil, fmt.Errorf("warming decoders: %w", err)
		}
		d, err := newDecoder(args)
		if err != nil {
			p.close()
			return nil, initError(settings, err)
		}
		onInit()
		p.free <- d
	}
	logger.Info("pocketsphinx decoders warm", "pool_size", settings.PoolSize, "took", time.Since(start))
	return p, nil
}

// initError names the setting most likely to blame for a decoder that
// would not start: pocketsphinx only says that it failed.
func initError(s Settings, err error) error {
	var e *sdk.Error
	switch {
	case errors.Is(err, errOptions):
		e = sdk.InvalidField(fieldOptions, "pocketsphinx rejected the options")
	case s.Grammar != "":
		e = sdk.InvalidField(fieldGrammar, "pocketsphinx could not load the grammar (or the model_dir or dictionary)")
	case s.KeywordList != "":
		e = sdk.InvalidField(fieldKeywordList, "pocketsphinx could not load the keyword list (or the model_dir or dictionary)")
	default:
		e = sdk.InvalidField(fieldModelDir, "pocketsphinx could not load the models (model_dir, dictionary or language_model)")
	}
	e.Err = err
	return e
}

// acquire lends a decoder, waiting up to wait for one to come back. It
// fails with ResourceExhausted when none does and with the context's error
// when ctx ends first.
func (p *pool) acquire(ctx context.Context, wait time.Duration) (*decoder, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case d := <-p.free:
		return p.lend(d)
	default:
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case d := <-p.free:
		return p.lend(d)
	case <-timer.C:
		return nil, &sdk.Error{
			Code:       sdk.CodeResourceExhausted,
			Message:    fmt.Sprintf("all %d pocketsphinx decoders are busy (waited %s)", cap(p.free), wait),
			Details:    map[string]string{fieldPoolSize: fmt.Sprint(cap(p.free))},
			RetryAfter: wait,
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *pool) lend(d *decoder) (*decoder, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		// This decoder was received just before close drained the rest.
		d.free()
		return nil, sdk.Errorf(sdk.CodeUnavailable, "pocketsphinx plugin is shutting down")
	}
	p.lent++
	return d, nil
}

// release takes a decoder back. The decoder must have no open utterance.
// After close, returned decoders are freed instead.
func (p *pool) release(d *decoder) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lent--
	if p.closed {
		d.free()
		if p.lent == 0 {
			trimHeap()
		}
		return
	}
	p.free <- d
}

// close frees the idle decoders now and every lent one when it comes back.
func (p *pool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	for {
		select {
		case d := <-p.free:
			d.free()
		default:
			trimHeap()
			return
		}
	}
}
