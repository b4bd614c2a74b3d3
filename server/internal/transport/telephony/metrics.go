package telephony

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the telephony counters; labels are bounded (carrier,
// mediastream.Reason, outcome).
type metrics struct {
	calls   *prometheus.CounterVec
	ignored *prometheus.CounterVec
	webhook *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "parley", Subsystem: "telephony", Name: "calls_total", Help: "Media streams that started a session, by carrier.",
		}, []string{"carrier"}),
		ignored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "parley", Subsystem: "telephony", Name: "ignored_messages_total", Help: "Inbound stream messages ignored, by reason.",
		}, []string{"carrier", "reason"}),
		webhook: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "parley", Subsystem: "telephony", Name: "webhooks_total", Help: "Voice webhook requests, by outcome.",
		}, []string{"carrier", "outcome"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.calls, m.ignored, m.webhook} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("telephony: register metrics: %w", err)
		}
	}
	return m, nil
}
