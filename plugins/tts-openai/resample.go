package main

import "math"

// Resampler design.
const (
	// zeroCrossings is how many sinc zero crossings the kernel spans on
	// each side; with the Kaiser window below it gives a transition band of
	// about 4% of the output's Nyquist frequency.
	zeroCrossings = 32
	// kaiserBeta shapes the window for about 70 dB of stop-band attenuation.
	kaiserBeta = 6.76
	// rolloff puts the cutoff below the lower Nyquist frequency so that the
	// transition band ends before it and nothing aliases.
	rolloff = 0.94
	// int16 limits for converting filtered samples back.
	maxInt16 = math.MaxInt16
	minInt16 = math.MinInt16
)

// resampler converts mono PCM16 from one rate to another with a polyphase
// windowed-sinc low-pass filter: the rate ratio is reduced to up/down, and
// output sample n sits at input position n·down/up, computed from one of
// up precomputed kernel phases. It keeps the input history it still needs
// between Process calls; Finish pads with silence and returns the tail, so
// that in·up/down samples come out in all. Not safe for concurrent use.
type resampler struct {
	up, down int
	half     int         // kernel half-length in input samples
	phases   [][]float64 // phases[p][j] weighs input sample i-half+1+j for phase p
	hist     []float64   // input history; hist[0] is input sample histStart
	start    int64
	next     int64 // index of the next output sample
	inTotal  int64
}

// newResampler returns a resampler from inRate to outRate.
func newResampler(inRate, outRate int) *resampler {
	g := gcd(inRate, outRate)
	up, down := outRate/g, inRate/g
	// cutoff in cycles per input sample: below the output's Nyquist when
	// downsampling, below the input's when upsampling (removes images).
	cutoff := rolloff * 0.5 * math.Min(1, float64(up)/float64(down))
	half := int(math.Ceil(zeroCrossings / (2 * cutoff)))
	phases := make([][]float64, up)
	for p := range phases {
		frac := float64(p) / float64(up)
		taps := make([]float64, 2*half)
		sum := 0.0
		for j := range taps {
			x := frac + float64(half-1-j) // distance from the output point to the input sample
			taps[j] = 2 * cutoff * sinc(2*cutoff*x) * kaiser(x/float64(half), kaiserBeta)
			sum += taps[j]
		}
		for j := range taps {
			taps[j] /= sum // unity gain at DC for every phase
		}
		phases[p] = taps
	}
	return &resampler{
		up: up, down: down, half: half, phases: phases,
		hist:  make([]float64, half-1), // silence before the first sample
		start: -int64(half - 1),
	}
}

// Process takes input samples and returns the output samples they complete.
func (r *resampler) Process(in []int16) []int16 {
	for _, s := range in {
		r.hist = append(r.hist, float64(s))
	}
	r.inTotal += int64(len(in))
	return r.drain(r.start + int64(len(r.hist)))
}

// Finish returns the remaining output, as if the input were followed by
// silence.
func (r *resampler) Finish() []int16 {
	total := (r.inTotal*int64(r.up) + int64(r.down) - 1) / int64(r.down)
	r.hist = append(r.hist, make([]float64, r.half)...)
	out := r.drainUntil(r.start+int64(len(r.hist)), total)
	return out
}

func (r *resampler) drain(avail int64) []int16 {
	return r.drainUntil(avail, math.MaxInt64)
}

// drainUntil computes outputs while the input they need is available
// (input up to index avail-1) and fewer than limit were produced.
func (r *resampler) drainUntil(avail, limit int64) []int16 {
	var out []int16
	for r.next < limit {
		pos := r.next * int64(r.down)
		i := pos / int64(r.up) // input sample at or before the output point
		if i+int64(r.half) >= avail {
			break
		}
		taps := r.phases[pos%int64(r.up)]
		from := i - int64(r.half) + 1 - r.start
		acc := 0.0
		for j, w := range taps {
			acc += w * r.hist[from+int64(j)]
		}
		out = append(out, clamp16(acc))
		r.next++
	}
	// Drop history no future output needs.
	need := r.next*int64(r.down)/int64(r.up) - int64(r.half) + 1
	if drop := need - r.start; drop > 0 && drop <= int64(len(r.hist)) {
		r.hist = append(r.hist[:0], r.hist[drop:]...)
		r.start = need
	}
	return out
}

func clamp16(v float64) int16 {
	v = math.Round(v)
	switch {
	case v > maxInt16:
		return maxInt16
	case v < minInt16:
		return minInt16
	default:
		return int16(v)
	}
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

// kaiser is the Kaiser window at x in [-1, 1] (zero outside).
func kaiser(x, beta float64) float64 {
	if x < -1 || x > 1 {
		return 0
	}
	return besselI0(beta*math.Sqrt(1-x*x)) / besselI0(beta)
}

// besselI0 is the zeroth-order modified Bessel function of the first kind.
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	for k := 1; k < 50; k++ {
		term *= (x / (2 * float64(k))) * (x / (2 * float64(k)))
		sum += term
		if term < 1e-12*sum {
			break
		}
	}
	return sum
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
