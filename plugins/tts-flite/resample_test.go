package main

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func tone(freq float64, rate, n int, amp float64) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
	}
	return out
}

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

func resampleAll(r *resampler, in []int16, chunk int) []int16 {
	var out []int16
	for len(in) > 0 {
		n := min(chunk, len(in))
		out = append(out, r.Process(in[:n])...)
		in = in[n:]
	}
	return append(out, r.Finish()...)
}

func TestResamplerLengthAndFidelity(t *testing.T) {
	const amp = 10000
	cases := []struct {
		name        string
		in, out     int
		freq        float64
		maxErrRatio float64
	}{
		{"8k to 16k", 8000, 16000, 440, 0.01},
		{"16k to 48k", 16000, 48000, 1000, 0.01},
		{"16k to 44.1k", 16000, 44100, 1000, 0.01},
		{"16k to 24k", 16000, 24000, 300, 0.01},
		{"16k to 8k", 16000, 8000, 1000, 0.01},
		{"16k to 22.05k", 16000, 22050, 2500, 0.01},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := tc.in / 2 // half a second
			in := tone(tc.freq, tc.in, n, amp)
			out := resampleAll(newResampler(tc.in, tc.out), in, 333)
			want := int(math.Ceil(float64(n) * float64(tc.out) / float64(tc.in)))
			require.Len(t, out, want)
			ref := tone(tc.freq, tc.out, len(out), amp)
			// Compare away from the edges, where the zero padding matters.
			edge := tc.out / 50
			var errSum, refSum float64
			for i := edge; i < len(out)-edge; i++ {
				d := float64(out[i]) - float64(ref[i])
				errSum += d * d
				refSum += float64(ref[i]) * float64(ref[i])
			}
			assert.Less(t, math.Sqrt(errSum/refSum), tc.maxErrRatio)
		})
	}
}

func TestResamplerRemovesAliasingWhenDownsampling(t *testing.T) {
	const amp = 10000
	in := tone(6000, 16000, 16000, amp) // above the 4 kHz Nyquist of 8 kHz
	out := resampleAll(newResampler(16000, 8000), in, 160)
	mid := out[400 : len(out)-400]
	// Naive decimation would keep the full amplitude (aliased to 2 kHz).
	assert.Less(t, rms(mid), amp*0.01, "6 kHz must be filtered out, not aliased")
}

func TestResamplerChunkingDoesNotChangeOutput(t *testing.T) {
	in := tone(700, 8000, 4000, 8000)
	whole := resampleAll(newResampler(8000, 16000), in, len(in))
	for _, chunk := range []int{1, 7, 160, 999} {
		assert.Equal(t, whole, resampleAll(newResampler(8000, 16000), in, chunk), "chunk %d", chunk)
	}
}

func TestResamplerNilForEqualRates(t *testing.T) {
	assert.Nil(t, newResampler(16000, 16000))
}
