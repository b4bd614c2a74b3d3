package session

import (
	"context"
	"strconv"
	"time"

	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/vad"
)

// input is the audio path into a session: PCM16 at the client's rate,
// resampled to 16 kHz, cut into 20 ms frames and run through the VAD.
// Owned by the session goroutine.
type input struct {
	resampler *audio.Resampler
	framer    audio.Framer
	seg       *vad.Segmenter
	det       *recordingDetector
	// energy is the detector's dB threshold (session.update
	// vad.threshold_db): the energy engine's own, or mapped onto Silero's
	// enter probability.
	energy thresholder
	// pos is the input audio seen so far; voicedEnd the end of the last
	// frame the detector called speech.
	pos, voicedEnd time.Duration
	samples        []int16
	resampled      []int16
}

// thresholder is a detector with a dB threshold.
type thresholder interface {
	vad.Detector
	SetThreshold(db float64)
	Threshold() float64
}

// init builds the session's detector: over a stream of newProber (the
// shared Silero engine) when the Manager has one, the energy detector
// otherwise.
func (in *input) init(cfg config.VAD, newProber func() vad.Prober) {
	if newProber != nil {
		in.energy = vad.NewProbabilityDetector(newProber(), cfg)
	} else {
		in.energy = vad.NewEnergyDetector(cfg)
	}
	in.det = &recordingDetector{Detector: in.energy}
	in.seg = vad.NewSegmenter(in.det, cfg)
}

// voicedDuration is the current speech run without its trailing silence
// (SpeechDuration counts the silence that may yet end the turn).
func (in *input) voicedDuration() time.Duration {
	return in.seg.SpeechDuration() - (in.pos - in.voicedEnd)
}

// recordingDetector remembers the last per-frame decision.
type recordingDetector struct {
	vad.Detector
	last bool
}

// IsSpeech implements vad.Detector.
func (d *recordingDetector) IsSpeech(f *audio.Frame) bool {
	d.last = d.Detector.IsSpeech(f)
	return d.last
}

func (s *Session) setInputRate(rate int) error {
	s.in.framer.Reset()
	s.in.resampler = nil
	if rate == audio.SampleRate {
		return nil
	}
	r, err := s.m.resampler(rate, audio.SampleRate)
	if err != nil {
		return err
	}
	s.in.resampler = r
	return nil
}

func (s *Session) onAudio(ctx context.Context, pcm []byte) {
	if !s.ready {
		s.sendError(CodeSessionNotReady, "send session.update (with input_sample_rate) before audio", nil)
		return
	}
	in := &s.in
	var err error
	in.samples, err = audio.DecodePCM16LE(in.samples[:0], pcm)
	if err != nil {
		s.sendError(CodeOddLengthAudio, "binary audio must hold whole PCM16 samples (even length)",
			map[string]string{"bytes": strconv.Itoa(len(pcm))})
		return
	}
	samples := in.samples
	if in.resampler != nil {
		in.resampled = in.resampler.Process(in.resampled[:0], samples)
		samples = in.resampled
	}
	if s.rec != nil {
		s.rec.Input(s.m.clock.Now(), samples)
	}
	in.framer.Push(samples, func(f *audio.Frame) { s.processFrame(ctx, f) })
}

// processFrame runs VAD on one 16 kHz frame and drives the turn: speech
// segments, audio to the recognizer, the end of the turn, and barge-in.
func (s *Session) processFrame(ctx context.Context, f *audio.Frame) {
	in := &s.in
	in.pos += audio.FrameDuration
	if s.st.manualTurns {
		s.manualFrame(ctx, f)
		return
	}
	res := in.seg.Process(f)
	if in.det.last {
		in.voicedEnd = in.pos
		if t := s.uturn; t != nil && !t.ended {
			t.voiced += audio.FrameDuration
		}
	}
	switch res.Event {
	case vad.SpeechStarted:
		s.send(SpeechStarted{Audio: res.At})
		if s.resp == nil {
			s.setTurn(turnUserSpeaking)
		}
		s.beginSegment(ctx, res.PreRoll)
	case vad.SpeechStopped:
		s.send(SpeechStopped{Audio: res.At})
		s.endSegment(ctx, res.At)
		if t := s.uturn; res.Forced && t != nil && t.waiting {
			// Speech (or babble the VAD takes for it) went on for
			// vad.max_utterance: the turn ends now, whatever the words.
			s.endTurn(ctx, t, DecisionForced)
		}
		if s.uturn == nil {
			s.settle()
		}
	default:
		if res.Speaking && s.utt != nil && !s.utt.closing {
			s.sttSend(f)
		}
	}
	s.checkBargeIn(res.Speaking)
	s.checkFalseInterruption(ctx)
	s.checkTurnEnd(ctx)
}
