package pluginhost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/resilience"
)

// chain is a pipeline's ordered list of instances of one kind.
type chain struct {
	kind    config.PluginKind
	members []*instance
	retry   config.Retry
	// firstOutput bounds the wait for a call's first output (0: none).
	firstOutput time.Duration
	logger      *slog.Logger
}

// firstOutputOf is the first-output bound of kind.
func firstOutputOf(f config.FirstOutput, kind config.PluginKind) time.Duration {
	switch kind {
	case config.KindSTT:
		return f.STT
	case config.KindLLM:
		return f.LLM
	case config.KindTTS:
		return f.TTS
	}
	return 0
}

// firstOutputWatch cuts a call off when its first output is late: armed,
// it cancels the call after the chain's bound unless stopped first.
type firstOutputWatch struct {
	timer    *time.Timer
	timedOut atomic.Bool
}

// arm starts the watch on a call; a zero bound or a second arm does nothing.
func (w *firstOutputWatch) arm(d time.Duration, cancel context.CancelFunc) {
	if d <= 0 || w.timer != nil {
		return
	}
	w.timer = time.AfterFunc(d, func() {
		w.timedOut.Store(true)
		cancel()
	})
}

// stop ends the watch (the first output came, or the call ended).
func (w *firstOutputWatch) stop() {
	if w.timer != nil {
		w.timer.Stop()
	}
}

// check returns the first-output error in place of err when the watch cut
// the call off (even if an output raced the cut), counting it; otherwise
// err.
func (w *firstOutputWatch) check(in *instance, d time.Duration, err error) error {
	if !w.timedOut.Load() {
		return err
	}
	in.metrics.firstOutputTimeouts.WithLabelValues(in.name).Inc()
	in.logger.Warn("plugin gave no first output in time", "timeout", d.String())
	return &sdk.Error{
		Code:    sdk.CodeDeadlineExceeded,
		Message: fmt.Sprintf("plugin %s gave no output within %s", in.name, d),
		Details: map[string]string{"plugin": in.name},
		Err:     ErrFirstOutputTimeout,
	}
}

// cursor is where one logical call stands in its chain: which member it is
// on, that member's retry schedule, and the errors of members given up on.
type cursor struct {
	member  int
	backoff *resilience.Backoff
	errs    []error
}

func (c *chain) newCursor() *cursor {
	return &cursor{backoff: resilience.NewBackoff(c.retry)}
}

// opened is a call that got going on one instance. done must be called
// once with the call's outcome for the instance's breaker.
type opened[T any] struct {
	v    T
	in   *instance
	gen  *generation
	done func(error)
}

// tryFunc starts a call on one running instance.
type tryFunc[T any] func(ctx context.Context, in *instance, gen *generation) (T, error)

// open runs try on the chain's members from cur on, until one succeeds.
// prevErr, when not nil, is the failure of the call cur points at (a stream
// that failed before any output) and is handled like a failed try. A
// transient failure is retried on the same member per the retry policy; an
// open breaker, an unavailable plugin or exhausted retries fall back to the
// next member (logged at Warn). The caller's errors and context end the
// call at once.
func open[T any](ctx context.Context, c *chain, cur *cursor, prevErr error, try tryFunc[T]) (opened[T], error) {
	var zero opened[T]
	err := prevErr
	for {
		if err != nil {
			if ctx.Err() != nil || resilience.IsCallerError(err) {
				return zero, err
			}
			retryNow := false
			// A hung instance is not retried: the next one is tried.
			if !resilience.IsBreakerRejection(err) && !errors.Is(err, ErrFirstOutputTimeout) {
				d, gerr := cur.backoff.Next(err)
				if gerr == nil {
					if werr := resilience.Wait(ctx, d); werr != nil {
						return zero, errors.Join(err, werr)
					}
					retryNow = true
				} else {
					err = gerr
				}
			}
			if !retryNow {
				from := c.members[cur.member].name
				cur.errs = append(cur.errs, err)
				cur.member++
				cur.backoff = resilience.NewBackoff(c.retry)
				if cur.member < len(c.members) {
					c.logger.Warn("plugin fallback", "kind", string(c.kind), "from", from,
						"to", c.members[cur.member].name, "error", err)
				}
			}
		}
		if cur.member >= len(c.members) {
			return zero, c.exhausted(cur.errs)
		}
		in := c.members[cur.member]
		// A plugin that is down is skipped without touching its breaker:
		// its supervisor already knows and is restarting it, and a restart
		// taking a few retries must not hold the breaker open afterwards.
		gen, aerr := in.acquire()
		if aerr != nil {
			in.countError(aerr)
			err = aerr
			continue
		}
		done, berr := in.breaker.Allow()
		if berr != nil {
			in.countError(berr)
			err = berr
			continue
		}
		v, terr := try(ctx, in, gen)
		if terr != nil {
			terr = in.classify(ctx, gen, terr)
			done(in.outcome(ctx, gen, terr))
			in.countError(terr)
			err = terr
			continue
		}
		return opened[T]{v: v, in: in, gen: gen, done: done}, nil
	}
}

// exhausted is the error when no member could serve a call.
func (c *chain) exhausted(errs []error) error {
	if len(c.members) == 0 {
		return &sdk.Error{Code: sdk.CodeUnavailable, Message: fmt.Sprintf("no %s plugin in the pipeline", c.kind)}
	}
	names := make([]string, len(c.members))
	for i, m := range c.members {
		names[i] = m.name
	}
	return &sdk.Error{
		Code:    sdk.CodeUnavailable,
		Message: fmt.Sprintf("no %s plugin available (tried %s)", c.kind, strings.Join(names, ", ")),
		Err:     errors.Join(errs...),
	}
}

// Info returns the Info of the first running member.
func (c *chain) Info(context.Context) (sdk.Info, error) {
	for _, in := range c.members {
		if gen, err := in.acquire(); err == nil {
			return gen.info, nil
		}
	}
	return sdk.Info{}, c.exhausted(nil)
}

// Configure is refused: the host configures its plugins from Parley's
// configuration when it starts them.
func (c *chain) Configure(context.Context, json.RawMessage) error {
	return &sdk.Error{Code: sdk.CodeFailedPrecondition, Message: "plugins are configured by the plugin host from Parley's configuration"}
}
