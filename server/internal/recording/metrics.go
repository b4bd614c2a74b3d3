package recording

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// The op label of parley_recording_errors_total.
const (
	opOpen  = "open"
	opWrite = "write"
	opClose = "close"
)

type metrics struct {
	errors  *prometheus.CounterVec
	dropped prometheus.Counter
	active  prometheus.Gauge
	swept   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_recording_errors_total",
			Help: "Recordings that failed (open, write, close): the call went on unrecorded.",
		}, []string{"op"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_recording_dropped_total",
			Help: "Audio chunks and events left out of recordings because the disk was too slow (queue full).",
		}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "parley_recordings_active",
			Help: "Recordings being written.",
		}),
		swept: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_recording_files_deleted_total",
			Help: "Recording files deleted after recording.retention.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.errors, m.dropped, m.active, m.swept} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("recording: metrics: %w", err)
		}
	}
	return m, nil
}
