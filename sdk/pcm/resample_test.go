package pcm

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// allRates are the common rates; every pair must be supported.
func allRates() []int { return []int{8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000} }

// rms is the root mean square of s.
func rms(s []int16) float64 {
	if len(s) == 0 {
		return 0
	}
	var sum float64
	for _, v := range s {
		sum += float64(v) * float64(v)
	}
	return math.Sqrt(sum / float64(len(s)))
}

// tone is amp × sin(2π f t) sampled at rate for n samples.
func tone(freq, amp float64, rate, n int) []int16 {
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(math.Round(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate))))
	}
	return s
}

// resampleAll runs a whole stream through a fresh resampler.
func resampleAll(t testing.TB, from, to int, in []int16) []int16 {
	t.Helper()
	r, err := NewResampler(from, to)
	require.NoError(t, err)
	out := r.Process(nil, in)
	return r.Flush(out)
}

// toneSNR compares out with the ideal tone at the output rate, ignoring
// edge samples, and returns the signal-to-error ratio in dB.
func toneSNR(out []int16, freq, amp float64, rate, edge int) float64 {
	var sig, noise float64
	for i := edge; i < len(out)-edge; i++ {
		ideal := amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate))
		d := float64(out[i]) - ideal
		sig += ideal * ideal
		noise += d * d
	}
	return 10 * math.Log10(sig/math.Max(noise, 1e-9))
}

func TestResamplerInBandTone(t *testing.T) {
	const amp = 12000.0
	for _, from := range allRates() {
		for _, to := range allRates() {
			if from == to {
				continue
			}
			low := float64(min(from, to))
			for _, freq := range []float64{440, 0.3 * low} {
				t.Run(fmt.Sprintf("%d_to_%d_%.0fHz", from, to, freq), func(t *testing.T) {
					in := tone(freq, amp, from, from/2)
					out := resampleAll(t, from, to, in)
					snr := toneSNR(out, freq, amp, to, to/50)
					assert.Greater(t, snr, 60.0, "SNR %.1f dB", snr)
					t.Logf("SNR %.1f dB", snr)
				})
			}
		}
	}
}

func TestResamplerAttenuatesAboveNyquist(t *testing.T) {
	const amp = 16000.0
	tests := []struct {
		from, to int
		freq     float64
	}{
		{48000, 16000, 8200},
		{48000, 16000, 10000},
		{48000, 16000, 20000},
		{16000, 8000, 4100},
		{16000, 8000, 6000},
		{44100, 16000, 9000},
		{48000, 8000, 5000},
		{24000, 16000, 9000},
		{48000, 44100, 23000},
		{22050, 16000, 9500},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d_to_%d_%.0fHz", tt.from, tt.to, tt.freq), func(t *testing.T) {
			in := tone(tt.freq, amp, tt.from, tt.from/2)
			out := resampleAll(t, tt.from, tt.to, in)
			edge := tt.to / 50
			rmsIn := rms(in)
			rmsOut := rms(out[edge : len(out)-edge])
			att := 20 * math.Log10(rmsIn/math.Max(rmsOut, 1e-3))
			assert.GreaterOrEqual(t, att, 50.0, "attenuation %.1f dB", att)
			t.Logf("attenuation %.1f dB", att)
		})
	}
}

func TestResamplerChunkingInvariant(t *testing.T) {
	pairs := [][2]int{{48000, 16000}, {16000, 48000}, {44100, 16000}, {16000, 8000}, {8000, 44100}, {22050, 24000}}
	chunkings := [][]int{{1}, {7, 13, 1, 441}, {160}, {961, 3}}
	for _, p := range pairs {
		in := tone(700, 9000, p[0], p[0]/3)
		for i, v := range in {
			in[i] = v + int16((i*7919)%2001-1000) // broadband content too
		}
		want := resampleAll(t, p[0], p[1], in)
		for _, sizes := range chunkings {
			t.Run(fmt.Sprintf("%d_to_%d_%v", p[0], p[1], sizes), func(t *testing.T) {
				r, err := NewResampler(p[0], p[1])
				require.NoError(t, err)
				var got []int16
				for off, k := 0, 0; off < len(in); k++ {
					n := min(sizes[k%len(sizes)], len(in)-off)
					got = r.Process(got, in[off:off+n])
					off += n
				}
				got = r.Flush(got)
				assert.Equal(t, want, got)
			})
		}
	}
}

func TestResamplerLength(t *testing.T) {
	for _, from := range allRates() {
		for _, to := range allRates() {
			for _, n := range []int{0, 1, 999, from / 10} {
				t.Run(fmt.Sprintf("%d_to_%d_n%d", from, to, n), func(t *testing.T) {
					out := resampleAll(t, from, to, make([]int16, n))
					want := (int64(n)*int64(to) + int64(from) - 1) / int64(from)
					assert.Equal(t, want, int64(len(out)))
				})
			}
		}
	}
}

func TestResamplerReuseAfterFlush(t *testing.T) {
	in := tone(1000, 8000, 48000, 4800)
	r, err := NewResampler(48000, 16000)
	require.NoError(t, err)
	first := r.Flush(r.Process(nil, in))
	second := r.Flush(r.Process(nil, in))
	assert.Equal(t, first, second)
	r.Process(nil, in[:100])
	r.Reset()
	third := r.Flush(r.Process(nil, in))
	assert.Equal(t, first, third)
}

func TestResamplerIdentity(t *testing.T) {
	r, err := NewResampler(16000, 16000)
	require.NoError(t, err)
	in := []int16{1, 2, 3}
	assert.Equal(t, []int16{9, 1, 2, 3}, r.Process([]int16{9}, in))
	assert.Empty(t, r.Flush(nil))
}

func TestResamplerUnsupported(t *testing.T) {
	for _, p := range [][2]int{{16000, 96000}, {4000, 8000}, {0, 16000}, {-8000, 8000}, {16000, 12345}} {
		assert.False(t, Supported(p[0], p[1]), "%v", p)
		_, err := NewResampler(p[0], p[1])
		require.ErrorIs(t, err, ErrUnsupportedRate, "%v", p)
	}
}

func TestResamplerSupportsCommonRates(t *testing.T) {
	for _, from := range allRates() {
		for _, to := range allRates() {
			assert.True(t, Supported(from, to), "%d → %d", from, to)
		}
	}
	assert.True(t, Supported(16000, 47000), "any rate in range with few enough phases")
}

func TestFilterCacheShares(t *testing.T) {
	var c FilterCache
	a, err := c.Get(48000, 16000)
	require.NoError(t, err)
	b, err := c.Get(48000, 16000)
	require.NoError(t, err)
	assert.Same(t, a, b)
	_, err = c.Get(48000, 96000)
	require.ErrorIs(t, err, ErrUnsupportedRate)
	in := tone(1000, 8000, 48000, 4800)
	want := resampleAll(t, 48000, 16000, in)
	r := NewResamplerFilter(a)
	assert.Equal(t, want, r.Flush(r.Process(nil, in)))
}

func TestResamplerSaturates(t *testing.T) {
	// A full-scale step overshoots after filtering (Gibbs); the output must
	// clip at full scale, not wrap around to large negative values.
	in := make([]int16, 4800)
	for i := 2400; i < len(in); i++ {
		in[i] = math.MaxInt16
	}
	out := resampleAll(t, 48000, 16000, in)
	assert.Contains(t, out, int16(math.MaxInt16), "overshoot should clip")
	for i, v := range out {
		require.Greater(t, v, int16(-5000), "sample %d wrapped", i)
	}
}

func benchmarkResampler(b *testing.B, from, to int) {
	r, err := NewResampler(from, to)
	require.NoError(b, err)
	in := tone(440, 8000, from, from/50) // one 20 ms frame
	dst := make([]int16, 0, to/50+16)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		dst = r.Process(dst[:0], in)
	}
}

func BenchmarkResample48kTo16kFrame(b *testing.B) { benchmarkResampler(b, 48000, 16000) }
func BenchmarkResample16kTo48kFrame(b *testing.B) { benchmarkResampler(b, 16000, 48000) }
func BenchmarkResample44kTo16kFrame(b *testing.B) { benchmarkResampler(b, 44100, 16000) }

func TestResamplerDelay(t *testing.T) {
	for _, p := range [][2]int{{48000, 16000}, {16000, 48000}, {44100, 16000}, {8000, 16000}} {
		r, err := NewResampler(p[0], p[1])
		require.NoError(t, err)
		d := r.Delay()
		require.Positive(t, d)
		// Process holds back exactly the outputs whose filter window
		// reaches past the input received so far.
		for _, n := range []int{d - 1, d + 1, 3 * d, 5*d + 7} {
			r.Reset()
			out := r.Process(nil, make([]int16, n))
			want := 0
			if n > d {
				want = int((int64(n-d)*int64(p[1]) + int64(p[0]) - 1) / int64(p[0]))
			}
			assert.Equal(t, want, len(out), "%v n=%d delay=%d", p, n, d)
		}
	}
}
