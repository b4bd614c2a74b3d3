package pcm

import (
	"fmt"
	"math"
	"sync"
)

// Filter design of the resampler. The low-pass prototype is a Kaiser-windowed
// sinc whose pass band ends at passBand × the lower Nyquist frequency and
// whose stop band starts at that Nyquist frequency, so nothing that would
// alias survives by more than about -stopBandDB.
const (
	// passBandEdge is the end of the pass band as a fraction of the lower
	// of the two rates (0.42 × 16 kHz = 6.7 kHz).
	passBandEdge = 0.42
	// stopBandEdge is the start of the stop band as a fraction of the lower
	// rate: its Nyquist frequency.
	stopBandEdge = 0.5
	// stopBandDB is the designed stop-band attenuation in dB.
	stopBandDB = 75.0
	// kaiserHighAttenuation is where the Kaiser β formula switches to its
	// linear form (dB).
	kaiserHighAttenuation = 50.0
	// MaxPhases bounds the polyphase table, and so which rate pairs are
	// supported: to/gcd(from, to) must not exceed it (8000 ↔ 44100 needs
	// 441, 11025 → 32000 needs 1280, 16000 → 12345 would need 2469).
	MaxPhases = 2048
)

// Filter is the polyphase filter bank designed for one pair of rates. It is
// immutable and safe to share between any number of Resamplers (see
// FilterCache).
type Filter struct {
	from, to int
	// up and down are the reduced ratio to/from = up/down.
	up, down int
	// taps is the number of input samples each output sample uses (even).
	taps int
	// coef holds up phases of taps coefficients each, time-reversed so a
	// forward dot product with the input window computes one output.
	coef []float32
}

// From is the input rate in Hz.
func (f *Filter) From() int { return f.from }

// To is the output rate in Hz.
func (f *Filter) To() int { return f.to }

// Taps is the number of input samples that contribute to each output
// sample; the resampler's delay is Taps/2 input samples.
func (f *Filter) Taps() int { return f.taps }

// DesignFilter designs the low-pass polyphase filter bank for converting
// from one supported rate to another (ErrUnsupportedRate otherwise; see
// Supported). For from == to it returns an identity filter.
func DesignFilter(from, to int) (*Filter, error) {
	if !inRange(from) || !inRange(to) {
		return nil, fmt.Errorf("resample %d Hz to %d Hz: %w", from, to, ErrUnsupportedRate)
	}
	g := gcd(from, to)
	f := &Filter{from: from, to: to, up: to / g, down: from / g}
	if from == to {
		return f, nil
	}
	if f.up > MaxPhases {
		return nil, fmt.Errorf("resample %d Hz to %d Hz needs %d phases: %w", from, to, f.up, ErrUnsupportedRate)
	}
	low := float64(min(from, to))
	transition := (stopBandEdge - passBandEdge) * low / float64(from) // cycles per input sample
	// Kaiser's estimate of the length for the wanted attenuation and
	// transition width, in input samples.
	n := (stopBandDB - kaiserLengthOffsetDB) / (kaiserLengthScale * transition)
	taps := int(math.Ceil(n))
	taps += taps & 1
	f.taps = taps
	beta := kaiserBeta(stopBandDB)
	// Cut-off in the middle of the transition band, as a fraction of the
	// upsampled rate (up × from).
	cutoff := (passBandEdge + stopBandEdge) / 2 * low / float64(from) / float64(f.up)
	length := taps * f.up
	center := float64(taps/2) * float64(f.up)
	i0Beta := besselI0(beta)
	f.coef = make([]float32, length)
	phase := make([]float64, taps)
	for p := range f.up {
		var sum float64
		for j := range taps {
			k := float64(p + j*f.up)
			x := k - center
			r := x / center
			w := 0.0
			if r > -1 && r < 1 {
				w = besselI0(beta*math.Sqrt(1-r*r)) / i0Beta
			}
			phase[j] = 2 * cutoff * sinc(2*cutoff*x) * w
			sum += phase[j]
		}
		// Normalise each phase to unit DC gain so interpolation adds no
		// ripple at the phase rate.
		row := f.coef[p*taps : (p+1)*taps]
		for j := range taps {
			row[taps-1-j] = float32(phase[j] / sum)
		}
	}
	return f, nil
}

// FilterCache designs each rate pair's Filter once and hands the same
// immutable Filter to every caller. It is safe for concurrent use; create
// one per server or plugin and share it. The zero value is ready to use.
type FilterCache struct {
	mu      sync.Mutex
	filters map[[2]int]*Filter
}

// Get returns the filter for from → to, designing it on first use.
func (c *FilterCache) Get(from, to int) (*Filter, error) {
	key := [2]int{from, to}
	c.mu.Lock()
	defer c.mu.Unlock()
	if f, ok := c.filters[key]; ok {
		return f, nil
	}
	f, err := DesignFilter(from, to)
	if err != nil {
		return nil, err
	}
	if c.filters == nil {
		c.filters = make(map[[2]int]*Filter)
	}
	c.filters[key] = f
	return f, nil
}

// Resampler converts a mono PCM16 stream between rates with a band-limited
// (Kaiser-windowed sinc, polyphase) low-pass filter, keeping state across
// calls so any chunking gives the same output. Output sample n is aligned
// with input time n × from/to; over a whole stream (Process calls then
// Flush) it produces ceil(inputs × to/from) samples. It is not safe for
// concurrent use.
type Resampler struct {
	f *Filter
	// buf holds input samples from absolute index start on.
	buf   []float32
	start int64
	// total is the number of input samples received.
	total int64
	// idx and phase locate the next output: input index and phase
	// (out × down = idx × up + phase).
	idx   int64
	phase int
}

// NewResampler returns a resampler from one rate to another
// (ErrUnsupportedRate for a pair Supported rejects). from == to is a copy.
func NewResampler(from, to int) (*Resampler, error) {
	f, err := DesignFilter(from, to)
	if err != nil {
		return nil, err
	}
	return NewResamplerFilter(f), nil
}

// NewResamplerFilter returns a resampler using a filter from DesignFilter
// or a FilterCache.
func NewResamplerFilter(f *Filter) *Resampler {
	r := &Resampler{f: f}
	r.Reset()
	return r
}

// Reset drops all state: the next Process starts a new stream.
func (r *Resampler) Reset() {
	half := r.f.taps / 2
	r.buf = r.buf[:0]
	if half > 0 {
		// Zeros before the stream start, so the first output has a full
		// window.
		for range half - 1 {
			r.buf = append(r.buf, 0)
		}
	}
	r.start = -int64(max(half-1, 0))
	r.total, r.idx, r.phase = 0, 0, 0
}

// Delay is the resampler's latency: the input samples it needs beyond an
// output's own position before it can emit that output.
func (r *Resampler) Delay() int { return r.f.taps / 2 }

// Process appends the resampled output of in to dst and returns it.
func (r *Resampler) Process(dst, in []int16) []int16 {
	if r.f.up == r.f.down {
		return append(dst, in...)
	}
	for _, v := range in {
		r.buf = append(r.buf, float32(v))
	}
	r.total += int64(len(in))
	dst = r.run(dst, r.total-int64(r.f.taps/2))
	r.compact()
	return dst
}

// Flush appends the outputs still held back by the filter delay (treating
// the input after the end as silence) to dst, and resets the resampler for
// a new stream.
func (r *Resampler) Flush(dst []int16) []int16 {
	if r.f.up == r.f.down {
		return dst
	}
	for range r.f.taps / 2 {
		r.buf = append(r.buf, 0)
	}
	dst = r.run(dst, r.total)
	r.Reset()
	return dst
}

// run emits every output whose input index is below limit.
func (r *Resampler) run(dst []int16, limit int64) []int16 {
	f := r.f
	taps := f.taps
	half := int64(taps / 2)
	stepInt, stepFrac := int64(f.down/f.up), f.down%f.up
	if r.idx < limit {
		// Room for the outputs about to be made, in one allocation.
		n := (limit-r.idx)*int64(f.up)/int64(f.down) + 1
		dst = grow(dst, int(n))
	}
	for r.idx < limit {
		lo := int(r.idx - half + 1 - r.start)
		x := r.buf[lo : lo+taps]
		h := f.coef[r.phase*taps : r.phase*taps+taps]
		dst = append(dst, toInt16(dot(x, h)))
		r.idx += stepInt
		r.phase += stepFrac
		if r.phase >= f.up {
			r.phase -= f.up
			r.idx++
		}
	}
	return dst
}

// compact drops input samples no future output needs.
func (r *Resampler) compact() {
	keep := r.idx - int64(r.f.taps/2) + 1
	drop := int(keep - r.start)
	if drop <= 0 {
		return
	}
	drop = min(drop, len(r.buf))
	n := copy(r.buf, r.buf[drop:])
	r.buf = r.buf[:n]
	r.start += int64(drop)
}

// dot is the inner product of two equally long slices.
func dot(x, h []float32) float32 {
	h = h[:len(x)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i] * h[i]
		s1 += x[i+1] * h[i+1]
		s2 += x[i+2] * h[i+2]
		s3 += x[i+3] * h[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * h[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// toInt16 rounds and saturates.
func toInt16(v float32) int16 {
	switch {
	case v >= math.MaxInt16:
		return math.MaxInt16
	case v <= math.MinInt16:
		return math.MinInt16
	case v >= 0:
		return int16(v + 0.5)
	default:
		return int16(v - 0.5)
	}
}

// Kaiser's empirical formulas (Oppenheim & Schafer) for the window
// parameter β and the filter length from the stop-band attenuation in dB.
const (
	kaiserLengthOffsetDB = 7.95
	kaiserLengthScale    = 14.36
	kaiserHighSlope      = 0.1102
	kaiserHighOffsetDB   = 8.7
	kaiserMidMinDB       = 21.0
	kaiserMidScale       = 0.5842
	kaiserMidExponent    = 0.4
	kaiserMidSlope       = 0.07886
)

// kaiserBeta is Kaiser's β for a stop-band attenuation in dB.
func kaiserBeta(att float64) float64 {
	switch {
	case att > kaiserHighAttenuation:
		return kaiserHighSlope * (att - kaiserHighOffsetDB)
	case att >= kaiserMidMinDB:
		return kaiserMidScale*math.Pow(att-kaiserMidMinDB, kaiserMidExponent) + kaiserMidSlope*(att-kaiserMidMinDB)
	default:
		return 0
	}
}

// besselI0 is the modified Bessel function of the first kind, order 0.
func besselI0(x float64) float64 {
	const epsilon = 1e-12
	sum, term := 1.0, 1.0
	half := x / 2
	for k := 1.0; term > epsilon*sum; k++ {
		term *= (half / k) * (half / k)
		sum += term
	}
	return sum
}

// sinc is sin(πx)/(πx).
func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

// The range of sample rates the resampler supports, in Hz.
const (
	MinRate = 8000
	MaxRate = 48000
)

// Supported reports whether NewResampler and DesignFilter convert from one
// rate to the other: both within [MinRate, MaxRate] Hz and the reduced
// ratio needing at most MaxPhases filter phases. Every pair among the
// common rates 8000, 11025, 16000, 22050, 24000, 32000, 44100 and 48000 Hz
// is supported.
func Supported(from, to int) bool {
	return inRange(from) && inRange(to) && to/gcd(from, to) <= MaxPhases
}

// inRange reports whether rate (Hz) is within [MinRate, MaxRate].
func inRange(rate int) bool { return rate >= MinRate && rate <= MaxRate }

// gcd is the greatest common divisor of a and b.
func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
