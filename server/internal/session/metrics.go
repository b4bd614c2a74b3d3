package session

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metricsNamespace prefixes Parley's metric names.
const metricsNamespace = "parley"

// Turn latency histogram buckets: 10 ms × 1.6^k, 15 buckets (up to ~7 s).
const (
	latencyFirstBucketSeconds = 0.01
	latencyBucketFactor       = 1.6
	latencyBucketCount        = 15
)

func latencyBuckets() []float64 {
	return prometheus.ExponentialBuckets(latencyFirstBucketSeconds, latencyBucketFactor, latencyBucketCount)
}

// metrics are the session manager's Prometheus collectors.
type metrics struct {
	sttFinal     prometheus.Histogram
	llmTTFT      prometheus.Histogram
	ttsTTFA      prometheus.Histogram
	voiceToVoice prometheus.Histogram
	active       prometheus.Gauge
	refused      *prometheus.CounterVec
	interrupts   *prometheus.CounterVec
	recoveries   *prometheus.CounterVec
	endpoint     *prometheus.HistogramVec
	preemptive   *prometheus.CounterVec
	backchannels prometheus.Counter
	pauses       *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	h := func(name, help string) prometheus.Histogram {
		return prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: metricsNamespace, Subsystem: "turn", Name: name, Help: help, Buckets: latencyBuckets(),
		})
	}
	m := &metrics{
		sttFinal:     h("stt_final_seconds", "End of user speech to final transcript."),
		llmTTFT:      h("llm_ttft_seconds", "LLM request to first token."),
		ttsTTFA:      h("tts_ttfa_seconds", "First text sent to TTS to first audio received."),
		voiceToVoice: h("voice_to_voice_seconds", "End of user speech to first agent audio sent."),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: metricsNamespace, Subsystem: "sessions", Name: "active", Help: "Sessions running now.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: "sessions", Name: "refused_total", Help: "Sessions refused at admission, by reason.",
		}, []string{"reason"}),
		interrupts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: "turn", Name: "interruptions_total", Help: "Responses cut off, by reason.",
		}, []string{"reason"}),
		recoveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: "turn", Name: "plugin_recoveries_total",
			Help: "Plugin streams that failed mid-turn, by kind and whether a restarted or fallback plugin took over.",
		}, []string{"kind", "outcome"}),
		endpoint: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: metricsNamespace, Subsystem: "turn", Name: "endpoint_delay_seconds",
			Help: "End of user speech to the end of the turn, by the turn detector's decision.", Buckets: latencyBuckets(),
		}, []string{"decision"}),
		preemptive: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: "turn", Name: "preemptive_total",
			Help: "LLM calls started before the end of the turn: used, or discarded because the user went on.",
		}, []string{"outcome"}),
		backchannels: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: "turn", Name: "backchannels_total",
			Help: "Acknowledgements over the agent's speech that did not interrupt it.",
		}),
		pauses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: "turn", Name: "pauses_total",
			Help: "Replies paused for user sound, by outcome: resumed (a false interruption) or interrupted.",
		}, []string{"outcome"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{
		m.sttFinal, m.llmTTFT, m.ttsTTFA, m.voiceToVoice, m.active, m.refused, m.interrupts, m.recoveries,
		m.endpoint, m.preemptive, m.backchannels, m.pauses,
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("session: register metrics: %w", err)
		}
	}
	return m, nil
}

// turnTimes are the instants of one turn (zero when the stage did not happen).
type turnTimes struct {
	speechEnd     time.Time
	sttFinal      time.Time
	llmStart      time.Time
	llmFirst      time.Time
	ttsFirstText  time.Time
	ttsFirstAudio time.Time
	firstAudioOut time.Time
	// endpointDelay and decision: the end-of-turn wait of a spoken turn.
	endpointDelay time.Duration
	decision      string
	preemptive    bool
}

func span(from, to time.Time) (time.Duration, bool) {
	if from.IsZero() || to.IsZero() || to.Before(from) {
		return 0, false
	}
	return to.Sub(from), true
}

// observe records t in the histograms and returns the metrics event.
func (m *metrics) observe(responseID string, t turnTimes) Metrics {
	ev := Metrics{ResponseID: responseID, TurnDecision: t.decision, Preemptive: t.preemptive}
	if t.decision != "" {
		d := t.endpointDelay
		ev.EndpointDelay = &d
	}
	for _, s := range []struct {
		from, to time.Time
		h        prometheus.Histogram
		dst      **time.Duration
	}{
		{t.speechEnd, t.sttFinal, m.sttFinal, &ev.STTFinal},
		{t.llmStart, t.llmFirst, m.llmTTFT, &ev.LLMTTFT},
		{t.ttsFirstText, t.ttsFirstAudio, m.ttsTTFA, &ev.TTSTTFA},
		{t.speechEnd, t.firstAudioOut, m.voiceToVoice, &ev.VoiceToVoice},
	} {
		if d, ok := span(s.from, s.to); ok {
			s.h.Observe(d.Seconds())
			*s.dst = &d
		}
	}
	return ev
}
