package cluster

import (
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/parleyhq/parley/server/internal/cluster/clustertest"
)

// BenchmarkAdmitRelease is one cluster-wide admission and its release
// (two script calls) against a real redis-server on loopback: what
// cluster mode adds to a session's start and end.
func BenchmarkAdmitRelease(b *testing.B) {
	r := clustertest.StartRedis(b, requireRedis)
	c := redis.NewClient(&redis.Options{Addr: r.Addr()})
	b.Cleanup(func() { _ = c.Close() })
	cfg := testConfig("a")
	cfg.MaxSessions, cfg.MaxSessionsPerIP = 1000, 1000
	n, err := New(cfg, "bench:", c, 10, "bench", prometheus.NewRegistry(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		tk, err := n.Admit("10.0.0." + strconv.Itoa(i%250))
		if err != nil {
			b.Fatal(err)
		}
		tk.Started("sess_000000000000000000000abc")
		tk.Release()
		i++
	}
}
