package telemetry

import (
	"context"
	"log/slog"
	"runtime/metrics"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleyhq/parley/server/internal/config"
)

// heapMetric is the runtime/metrics sample of live heap objects' bytes.
const heapMetric = "/memory/classes/heap/objects:bytes"

// MemoryGuard samples the heap and reports overload above a limit, so that
// session admission can refuse new work before the process runs out.
type MemoryGuard struct {
	limit      uint64
	interval   time.Duration
	heap       atomic.Uint64
	overloaded atomic.Bool
	logger     *slog.Logger
	sample     []metrics.Sample
}

// NewMemoryGuard returns a guard for cfg, registering
// parley_heap_bytes and parley_memory_overloaded on reg.
func NewMemoryGuard(cfg config.Telemetry, reg prometheus.Registerer, logger *slog.Logger) *MemoryGuard {
	g := &MemoryGuard{
		limit:    cfg.HeapLimitBytes,
		interval: cfg.MemorySampleInterval,
		logger:   logger,
		sample:   []metrics.Sample{{Name: heapMetric}},
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "parley_heap_bytes", Help: "Live heap bytes at the last memory guard sample.",
		}, func() float64 { return float64(g.heap.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "parley_memory_overloaded", Help: "1 when the heap is above telemetry.heap_limit_bytes and new sessions are refused.",
		}, func() float64 {
			if g.overloaded.Load() {
				return 1
			}
			return 0
		}),
	)
	g.Sample()
	return g
}

// Overloaded reports whether the last sample was above the limit.
func (g *MemoryGuard) Overloaded() bool { return g.overloaded.Load() }

// HeapBytes is the last sampled live heap size.
func (g *MemoryGuard) HeapBytes() uint64 { return g.heap.Load() }

// Sample reads the heap size now and updates the overload state.
func (g *MemoryGuard) Sample() {
	metrics.Read(g.sample)
	var heap uint64
	if g.sample[0].Value.Kind() == metrics.KindUint64 {
		heap = g.sample[0].Value.Uint64()
	}
	g.heap.Store(heap)
	over := g.limit > 0 && heap > g.limit
	if was := g.overloaded.Swap(over); was != over {
		g.logger.Warn("memory guard state changed", "overloaded", over, "heap_bytes", heap, "limit_bytes", g.limit)
	}
}

// Run samples every interval until ctx is done.
func (g *MemoryGuard) Run(ctx context.Context) error {
	t := time.NewTicker(g.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			g.Sample()
		}
	}
}
