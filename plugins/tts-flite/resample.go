package main

import (
	"math"
)

// Resampler design constants.
const (
	// resampleZeroCrossings is the number of sinc zero crossings on each side
	// of the kernel at the passband; more means a sharper low-pass.
	resampleZeroCrossings = 16
	// resampleKaiserBeta shapes the Kaiser window (≈ 80 dB stop band).
	resampleKaiserBeta = 8.0
	// resampleRolloff puts the cutoff a little below the lower Nyquist
	// frequency so the transition band does not alias.
	resampleRolloff = 0.92
	// int16 limits used when converting filtered samples back.
	maxInt16 = 32767
	minInt16 = -32768
)

// resampler converts a mono PCM16 signal from one rate to another with a
// polyphase windowed-sinc (Kaiser) low-pass filter. The ratio is reduced to
// up/down (L/M) so each output sample uses one of L precomputed phases.
// It keeps the input history needed across Process calls; Finish pads the
// end with silence and emits the remaining samples. It is not safe for
// concurrent use.
type resampler struct {
	up, down  int
	half      int         // half the kernel length, in input samples
	phases    [][]float32 // phases[p][k]: weight of x[base-half+1+k] at phase p
	hist      []float32   // input not yet fully consumed; hist[0] is input index histStart
	histStart int64
	next      int64 // index of the next output sample
	inTotal   int64 // input samples received so far
}

// newResampler returns a resampler from inRate to outRate Hz, or nil when
// the rates are equal.
func newResampler(inRate, outRate int) *resampler {
	if inRate == outRate {
		return nil
	}
	g := gcd(inRate, outRate)
	up, down := outRate/g, inRate/g
	cutoff := resampleRolloff * math.Min(1, float64(up)/float64(down)) // relative to input Nyquist
	half := int(math.Ceil(resampleZeroCrossings / cutoff))
	phases := make([][]float32, up)
	for p := range phases {
		frac := float64(p) / float64(up) // output position past x[base]
		taps := make([]float32, 2*half)
		var sum float64
		w := make([]float64, 2*half)
		for k := range taps {
			// tap k weights input sample base-half+1+k, at distance d from the output point.
			d := float64(k-half+1) - frac
			v := cutoff * sinc(cutoff*d) * kaiser(d/float64(half), resampleKaiserBeta)
			w[k] = v
			sum += v
		}
		for k := range taps {
			taps[k] = float32(w[k] / sum) // unit DC gain per phase
		}
		phases[p] = taps
	}
	return &resampler{up: up, down: down, half: half, phases: phases}
}

// Process feeds input samples and returns the output samples that are now
// fully determined.
func (r *resampler) Process(in []int16) []int16 {
	for _, s := range in {
		r.hist = append(r.hist, float32(s))
	}
	r.inTotal += int64(len(in))
	return r.drain(r.inTotal)
}

// Finish flushes the filter with silence and returns the remaining output,
// so that the total output length is ceil(input*L/M). The resampler is then
// reset for a new, unrelated signal.
func (r *resampler) Finish() []int16 {
	total := r.inTotal
	for range r.half {
		r.hist = append(r.hist, 0)
	}
	out := r.drainUntil(total+int64(r.half), total)
	*r = resampler{up: r.up, down: r.down, half: r.half, phases: r.phases}
	return out
}

// drain emits outputs whose kernels lie within the available input.
func (r *resampler) drain(avail int64) []int16 {
	return r.drainUntil(avail, math.MaxInt64)
}

// drainUntil emits output samples whose kernel ends before avail (input
// samples present) and whose position is before limit input samples.
func (r *resampler) drainUntil(avail, limit int64) []int16 {
	var out []int16
	for {
		pos := r.next * int64(r.down) // output position times up, in input units
		base := pos / int64(r.up)
		if base >= limit {
			break
		}
		if base+int64(r.half) >= avail { // needs x[base+half]
			break
		}
		taps := r.phases[pos%int64(r.up)]
		var acc float32
		first := base - int64(r.half) + 1
		for k, w := range taps {
			idx := first + int64(k) - r.histStart
			if idx < 0 { // before the signal start: silence
				continue
			}
			acc += w * r.hist[idx]
		}
		out = append(out, clampInt16(acc))
		r.next++
	}
	// Drop history no future output needs.
	keepFrom := (r.next*int64(r.down))/int64(r.up) - int64(r.half) + 1
	if drop := keepFrom - r.histStart; drop > 0 && drop <= int64(len(r.hist)) {
		r.hist = append(r.hist[:0], r.hist[drop:]...)
		r.histStart = keepFrom
	}
	return out
}

func clampInt16(v float32) int16 {
	switch {
	case v > maxInt16:
		return maxInt16
	case v < minInt16:
		return minInt16
	default:
		return int16(math.Round(float64(v)))
	}
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

// kaiser is the Kaiser window at x in [-1, 1] (0 outside).
func kaiser(x, beta float64) float64 {
	if x < -1 || x > 1 {
		return 0
	}
	return besselI0(beta*math.Sqrt(1-x*x)) / besselI0(beta)
}

// besselI0 is the zeroth-order modified Bessel function of the first kind.
func besselI0(x float64) float64 {
	const terms = 32
	sum, term := 1.0, 1.0
	for k := 1; k < terms; k++ {
		term *= (x / (2 * float64(k))) * (x / (2 * float64(k)))
		sum += term
	}
	return sum
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
