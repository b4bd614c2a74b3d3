package loadtest

import (
	"fmt"
	"math"
	"os"
	"time"

	"github.com/parleyhq/parley/server/internal/audio"
)

// samplesPerMS is the 16 kHz input rate per millisecond.
const samplesPerMS = audio.SampleRate / 1000

// The generated question: three voiced "words" on a glottal-like harmonic
// series whose pitch rises from questionF0Start to questionF0End (a
// question's intonation), each word shaped by a raised-cosine envelope,
// with short pauses between words (far below any end-of-turn silence).
// Energy VADs take it for speech; a recognizer hears no words in it.
const (
	questionWords    = 3
	questionWord     = 380 * time.Millisecond
	questionPause    = 90 * time.Millisecond
	questionF0Start  = 120.0
	questionF0End    = 190.0
	questionHarmonic = 10
	questionPeak     = 9000.0
	// harmonicNorm scales the 1/h harmonic sum, a band-limited sawtooth
	// whose peak (Gibbs overshoot included) is about 1.85, to within ±1.
	harmonicNorm = 1.9
)

// Question returns the default question: about 1.3 s of synthetic voiced
// speech at 16 kHz (see the constants above). It is deterministic.
func Question() []int16 {
	word := int(questionWord / time.Millisecond * samplesPerMS)
	pause := int(questionPause / time.Millisecond * samplesPerMS)
	total := questionWords*word + (questionWords-1)*pause
	out := make([]int16, total)
	phase := 0.0
	for i := range out {
		pos := i % (word + pause)
		f0 := questionF0Start + (questionF0End-questionF0Start)*float64(i)/float64(total)
		phase += 2 * math.Pi * f0 / audio.SampleRate
		if pos >= word {
			continue
		}
		env := 0.5 - 0.5*math.Cos(2*math.Pi*float64(pos)/float64(word))
		v := 0.0
		for h := 1; h <= questionHarmonic; h++ {
			v += math.Sin(float64(h)*phase) / float64(h)
		}
		out[i] = int16(questionPeak * env * v / harmonicNorm)
	}
	return out
}

// LoadWAV reads a 16 kHz PCM16 WAV file (stereo is mixed down to mono).
func LoadWAV(path string) ([]int16, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--wav: %w", err)
	}
	defer f.Close()
	p, err := audio.ReadWAV(f)
	if err != nil {
		return nil, fmt.Errorf("--wav %s: %w", path, err)
	}
	if p.SampleRate != audio.SampleRate {
		return nil, fmt.Errorf("%w: --wav %s: %d Hz, want %d Hz", ErrInvalidConfig, path, p.SampleRate, audio.SampleRate)
	}
	return p.Samples, nil
}
