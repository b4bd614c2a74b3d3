package silero

import "github.com/parleyhq/parley/server/internal/audio"

// Stream is one audio stream's Silero VAD: it gathers 20 ms frames into
// the model's 32 ms windows and has each window inferred by the Engine with
// the stream's own recurrent state. Between windows a frame gets the
// probability of the latest window: that adds 0 to 28 ms (16 ms on
// average) to the model's own latency. It is a vad.Prober; wrap it in a
// vad.ProbabilityDetector for speech decisions. Not safe for concurrent
// use.
//
// A window of digital silence (every sample of it and of its context zero:
// the silence a WebRTC transport fills in while the client is in DTX, or a
// muted client's zeros) is not inferred: its probability is 0 and the
// recurrent state starts over, as at the start of a stream. Real
// microphone input is never all zero, so that costs no decision.
type Stream struct {
	e *Engine
	// window is the model input: contextSamples of the previous window,
	// then the new samples gathered so far (n of them).
	window [inputSamples]float32
	n      int
	state  [stateSize]float32
	prob   float32
	// zeros counts the zero samples in a row up to the latest one.
	zeros int
	reply chan struct{}
}

// SpeechProbability implements vad.Prober.
func (s *Stream) SpeechProbability(f *audio.Frame) float64 {
	for _, x := range f {
		s.window[contextSamples+s.n] = float32(x) * pcmScale
		s.n++
		if x == 0 {
			s.zeros++
		} else {
			s.zeros = 0
		}
		if s.n < WindowSamples {
			continue
		}
		switch {
		case s.zeros >= inputSamples:
			s.prob, s.state = 0, [stateSize]float32{}
			s.e.skipped.Add(1)
		case !s.e.infer(s):
			s.prob = 0
		}
		copy(s.window[:contextSamples], s.window[WindowSamples:])
		s.n = 0
	}
	return float64(s.prob)
}

// Reset implements vad.Prober: the model state, the context and the
// samples gathered so far are forgotten.
func (s *Stream) Reset() {
	s.window, s.state, s.n, s.prob, s.zeros = [inputSamples]float32{}, [stateSize]float32{}, 0, 0, contextSamples
}
