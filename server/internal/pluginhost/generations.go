package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleyhq/parley/sdk"
)

// Generation states, as GET /v1/plugins shows them.
const (
	// GenerationActive: new sessions get this generation's plugins.
	GenerationActive = "active"
	// GenerationDraining: replaced by a reload; its sessions run to their
	// end (or the drain timeout), then its own processes stop.
	GenerationDraining = "draining"
)

// Generations keeps the plugin configurations a server runs at once: the
// current one, which new sessions get, and older ones that sessions still
// use after a reload. Each is a Host, numbered from 1; an instance shared
// by several (carried over by Successor) runs once.
type Generations struct {
	logger *slog.Logger

	sessions *prometheus.GaugeVec
	current  prometheus.Gauge

	mu     sync.Mutex
	cur    *gen
	live   []*gen
	closed bool
	// closing tracks retired Hosts being closed in the background.
	closing sync.WaitGroup
}

// gen is one numbered configuration and its bookkeeping.
type gen struct {
	n        int
	host     *Host
	sessions int
	retired  bool
	// drain ends a retired generation that still has sessions.
	drain *time.Timer
}

// GenerationInfo describes one live generation.
type GenerationInfo struct {
	Generation int    `json:"generation"`
	State      string `json:"state"`
	Sessions   int    `json:"sessions"`
}

// NewGenerations makes first, a started Host, generation 1. Metrics go to
// reg (nil: not exported).
func NewGenerations(first *Host, reg prometheus.Registerer, logger *slog.Logger) (*Generations, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	gs := &Generations{
		logger: logger,
		sessions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "parley_plugin_generation_sessions",
			Help: "Sessions using each live plugin generation (a reload starts a new one; old ones drain).",
		}, []string{"generation"}),
		current: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "parley_plugin_generation",
			Help: "The plugin generation new sessions get (1 at start, +1 per reload that changed plugins).",
		}),
	}
	if reg != nil {
		var err error
		if gs.sessions, err = register(reg, gs.sessions); err != nil {
			return nil, err
		}
		if gs.current, err = register(reg, gs.current); err != nil {
			return nil, err
		}
	}
	g := &gen{n: 1, host: first}
	gs.cur, gs.live = g, []*gen{g}
	gs.current.Set(1)
	gs.sessions.WithLabelValues("1").Set(0)
	return gs, nil
}

// Current returns the Host new sessions get and its number.
func (gs *Generations) Current() (*Host, int) {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	return gs.cur.host, gs.cur.n
}

// Lease is a session's hold on one generation's plugins: they keep
// running until every lease on them is released.
type Lease struct {
	gs   *Generations
	g    *gen
	once sync.Once
}

// STT returns the generation's speech-to-text chain.
func (l *Lease) STT() sdk.STT { return l.g.host.STT() }

// LLM returns the generation's language-model chain.
func (l *Lease) LLM() sdk.LLM { return l.g.host.LLM() }

// TTS returns the generation's text-to-speech chain.
func (l *Lease) TTS() sdk.TTS { return l.g.host.TTS() }

// Generation is the generation's number.
func (l *Lease) Generation() int { return l.g.n }

// Release lets go of the generation; a second call does nothing.
func (l *Lease) Release() { l.once.Do(func() { l.gs.release(l.g) }) }

// Acquire leases the current generation.
func (gs *Generations) Acquire() *Lease {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	g := gs.cur
	g.sessions++
	gs.sessions.WithLabelValues(strconv.Itoa(g.n)).Set(float64(g.sessions))
	return &Lease{gs: gs, g: g}
}

func (gs *Generations) release(g *gen) {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	g.sessions--
	gs.sessions.WithLabelValues(strconv.Itoa(g.n)).Set(float64(g.sessions))
	if g.retired && g.sessions == 0 {
		gs.retireLocked(g, "its last session ended")
	}
}

// Promote makes next, a started successor of the current Host, the
// generation new sessions get and returns its number. The previous one
// keeps serving its sessions; it is closed when the last ends, or after
// drain (0: when the last ends, however long that takes).
func (gs *Generations) Promote(next *Host, drain time.Duration) (int, error) {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	if gs.closed {
		return 0, fmt.Errorf("pluginhost: promote: %w", ErrClosed)
	}
	old := gs.cur
	g := &gen{n: old.n + 1, host: next}
	gs.cur = g
	gs.live = append(gs.live, g)
	gs.current.Set(float64(g.n))
	gs.sessions.WithLabelValues(strconv.Itoa(g.n)).Set(0)
	old.retired = true
	if old.sessions == 0 {
		gs.retireLocked(old, "it has no sessions")
	} else if drain > 0 {
		old.drain = time.AfterFunc(drain, func() { gs.expire(old, drain) })
	}
	return g.n, nil
}

// expire closes a retired generation whose sessions outlived the drain
// timeout; those sessions' next plugin calls fail as unavailable.
func (gs *Generations) expire(g *gen, drain time.Duration) {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	if slices.Contains(gs.live, g) {
		gs.logger.Warn("plugin generation drain timeout: stopping its plugins under live sessions",
			"generation", g.n, "sessions", g.sessions, "drain_timeout", drain.String())
		gs.retireLocked(g, "its drain timeout passed")
	}
}

// retireLocked removes g and closes its Host in the background (instances
// carried into a newer generation keep running). gs.mu is held.
func (gs *Generations) retireLocked(g *gen, why string) {
	gs.live = slices.DeleteFunc(gs.live, func(x *gen) bool { return x == g })
	gs.sessions.DeleteLabelValues(strconv.Itoa(g.n))
	if g.drain != nil {
		g.drain.Stop()
	}
	gs.logger.Info("plugin generation retired", "generation", g.n, "reason", why)
	gs.closing.Add(1)
	go func() {
		defer gs.closing.Done()
		ctx, cancel := context.WithTimeout(context.Background(), retireCloseTimeout)
		defer cancel()
		if err := g.host.Close(ctx); err != nil {
			gs.logger.Warn("plugin generation did not stop in time", "generation", g.n, "error", err)
		}
	}()
}

// retireCloseTimeout bounds stopping a retired generation's processes
// (each is SIGKILLed after stopGrace anyway).
const retireCloseTimeout = 2 * stopGrace

// Info describes every live generation, oldest first.
func (gs *Generations) Info() []GenerationInfo {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	out := make([]GenerationInfo, 0, len(gs.live))
	for _, g := range gs.live {
		state := GenerationDraining
		if g == gs.cur {
			state = GenerationActive
		}
		out = append(out, GenerationInfo{Generation: g.n, State: state, Sessions: g.sessions})
	}
	return out
}

// Status returns every instance of every live generation once, newest
// generation first in its config order, then what only older ones still
// run. Generation is the newest generation using the instance,
// Generations all of them.
func (gs *Generations) Status() []Status {
	gs.mu.Lock()
	live := slices.Clone(gs.live)
	gs.mu.Unlock()
	var out []Status
	index := map[*instance]int{}
	for i := len(live) - 1; i >= 0; i-- {
		g := live[i]
		for _, in := range g.host.instances {
			if j, seen := index[in]; seen {
				out[j].Generations = append(out[j].Generations, g.n)
				continue
			}
			s := in.status()
			s.Generation = g.n
			s.Generations = []int{g.n}
			index[in] = len(out)
			out = append(out, s)
		}
	}
	for i := range out {
		slices.Sort(out[i].Generations)
	}
	return out
}

// Ready returns why the current generation is not ready (see Host.Ready).
func (gs *Generations) Ready() []string {
	h, _ := gs.Current()
	return h.Ready()
}

// Close stops every generation's plugins (at shutdown, after the sessions
// ended) and waits for them, or until ctx is done.
func (gs *Generations) Close(ctx context.Context) error {
	gs.mu.Lock()
	gs.closed = true
	live := gs.live
	gs.live = nil
	gs.mu.Unlock()
	var errs []error
	for _, g := range live {
		if g.drain != nil {
			g.drain.Stop()
		}
		if err := g.host.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	done := make(chan struct{})
	go func() {
		gs.closing.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("pluginhost: close: retired plugins still stopping: %w", ctx.Err()))
	}
	return errors.Join(errs...)
}
