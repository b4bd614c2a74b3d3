package cluster

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	redisUp           prometheus.Gauge
	nodes             prometheus.Gauge
	heartbeatFailures prometheus.Counter
	admissions        *prometheus.CounterVec
	forwarded         *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		redisUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "redis_up",
			Help: "1 while the node's last Redis call succeeded, 0 while Redis is unreachable.",
		}),
		nodes: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "nodes",
			Help: "Live nodes in the registry at the last heartbeat.",
		}),
		heartbeatFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "heartbeat_failures_total",
			Help: "Heartbeats that did not reach Redis.",
		}),
		admissions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "admissions_total",
			Help: "Cluster-wide admission decisions: admitted, session_limit, ip_limit, local_fallback, refused_redis_unavailable.",
		}, []string{"result"}),
		forwarded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "forwarded_total",
			Help: "Per-session requests forwarded to the owner node, by result: ok, owner_unreachable, registry_unavailable.",
		}, []string{"result"}),
	}
	m.redisUp.Set(1)
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.redisUp, m.nodes, m.heartbeatFailures, m.admissions, m.forwarded} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("cluster: metrics: %w", err)
		}
	}
	return m, nil
}
