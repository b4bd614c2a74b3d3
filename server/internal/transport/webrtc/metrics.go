package webrtc

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// RegisterMetrics exposes the handler's Stats on reg as counters:
// parley_webrtc_frames_sent_total, _late_frames_total (sent more than one
// frame after their slot), _packets_received_total, _packets_lost_total,
// _packets_late_total, _bad_packets_total and _silence_filled_frames_total
// (DTX pauses filled).
func (h *Handler) RegisterMetrics(reg prometheus.Registerer) error {
	s := &h.stats
	for _, c := range []struct {
		name, help string
		load       func() uint64
	}{
		{"frames_sent_total", "Opus RTP packets of agent audio sent.", s.framesSent.Load},
		{"late_frames_total", "Agent audio packets sent more than one frame (20 ms) after their slot.", s.lateFrames.Load},
		{"packets_received_total", "Audio RTP packets received from clients.", s.packetsIn.Load},
		{"packets_lost_total", "Client packets missing and concealed (FEC or PLC).", s.packetsLost.Load},
		{"packets_late_total", "Client packets that came after their slot was played, or twice, and were dropped.", s.packetsLate.Load},
		{"bad_packets_total", "Client packets that did not decode.", s.badPackets.Load},
		{"silence_filled_frames_total", "20 ms frames of silence given to sessions while their clients were in DTX.", s.silenceFilled.Load},
	} {
		load := c.load
		if err := reg.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "parley", Subsystem: "webrtc", Name: c.name, Help: c.help,
		}, func() float64 { return float64(load()) })); err != nil {
			return fmt.Errorf("webrtc metrics: %w", err)
		}
	}
	return nil
}
