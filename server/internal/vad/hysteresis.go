package vad

import (
	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/config"
)

// Hysteresis turns a stream of speech probabilities into speech decisions
// that do not flicker around one threshold: a silent stream turns to speech
// when the probability reaches Enter, and speech lasts until it falls below
// Exit (Exit <= Enter). Noise that hovers near one threshold then flips the
// decision at most once.
type Hysteresis struct {
	// Enter is the probability at or above which silence turns to speech.
	Enter float64
	// Exit is the probability below which speech turns to silence.
	Exit     float64
	speaking bool
}

// Update feeds one probability and reports the decision after it.
func (h *Hysteresis) Update(p float64) bool {
	if h.speaking {
		h.speaking = p >= h.Exit
	} else {
		h.speaking = p >= h.Enter
	}
	return h.speaking
}

// Speaking is the current decision.
func (h *Hysteresis) Speaking() bool { return h.speaking }

// Reset returns to the silent state.
func (h *Hysteresis) Reset() { h.speaking = false }

// Prober is a model that gives each 20 ms frame a speech probability in
// [0, 1] (silero.Stream). It keeps per-stream state.
type Prober interface {
	// SpeechProbability reports the probability after f, updating the
	// prober's state.
	SpeechProbability(f *audio.Frame) float64
	// Reset forgets the stream.
	Reset()
}

// Mapping of the client's dB threshold (session.update vad.threshold_db)
// onto a ProbabilityDetector.
const (
	// DBPerProbability: the enter probability is threshold_db / 24, so the
	// energy engine's default 12 dB is Silero's default 0.5, the default
	// client limits 6..24 dB are 0.25..0.95, and the OpenAI Realtime
	// server_vad threshold (a probability, mapped to dB × 24 by the
	// realtime protocol) arrives as the probability it was.
	DBPerProbability = 24.0
	// maxEnterProbability caps the mapped enter probability: a model never
	// quite reaches 1.
	maxEnterProbability = 0.95
)

// ProbabilityDetector is the Detector over a Prober: its probabilities go
// through a Hysteresis with config.VAD's EnterProbability and
// ExitProbability. SetThreshold maps a dB threshold onto them (see
// DBPerProbability).
type ProbabilityDetector struct {
	p Prober
	h Hysteresis
	// enter is the configured enter probability; exitRatio the configured
	// exit/enter ratio, kept when SetThreshold moves the enter point.
	enter, exitRatio float64
	// last is the latest probability, for evaluations and logs.
	last float64
}

var _ Detector = (*ProbabilityDetector)(nil)

// NewProbabilityDetector returns a detector over p. The caller validated
// cfg (0 < ExitProbability <= EnterProbability < 1).
func NewProbabilityDetector(p Prober, cfg config.VAD) *ProbabilityDetector {
	return &ProbabilityDetector{
		p: p, h: Hysteresis{Enter: cfg.EnterProbability, Exit: cfg.ExitProbability},
		enter: cfg.EnterProbability, exitRatio: cfg.ExitProbability / cfg.EnterProbability,
	}
}

// SetThreshold sets the enter probability to db / DBPerProbability (at
// most 0.95; the configured one if db is not positive) and the exit
// probability in the configured ratio to it. Like
// EnergyDetector.SetThreshold it applies from the next frame; the caller
// validates db against config limits.
func (d *ProbabilityDetector) SetThreshold(db float64) {
	enter := d.enter
	if db > 0 {
		enter = min(db/DBPerProbability, maxEnterProbability)
	}
	d.h.Enter, d.h.Exit = enter, enter*d.exitRatio
}

// Threshold is the enter probability as a dB threshold (× DBPerProbability).
func (d *ProbabilityDetector) Threshold() float64 { return d.h.Enter * DBPerProbability }

// IsSpeech implements Detector.
func (d *ProbabilityDetector) IsSpeech(f *audio.Frame) bool {
	d.last = d.p.SpeechProbability(f)
	return d.h.Update(d.last)
}

// Probability is the latest speech probability.
func (d *ProbabilityDetector) Probability() float64 { return d.last }

// Reset implements Detector.
func (d *ProbabilityDetector) Reset() {
	d.p.Reset()
	d.h.Reset()
	d.last = 0
}
