package main

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tone returns n samples of a sine at freq Hz sampled at rate, amplitude amp.
func tone(freq float64, rate, n int, amp float64) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
	}
	return out
}

// resampleAll runs in through a resampler in chunks of chunk samples.
func resampleAll(inRate, outRate int, in []int16, chunk int) []int16 {
	r := newResampler(inRate, outRate)
	var out []int16
	for off := 0; off < len(in); off += chunk {
		out = append(out, r.Process(in[off:min(off+chunk, len(in))])...)
	}
	return append(out, r.Finish()...)
}

// rms is the root mean square of s, skipping edge samples at both ends
// (the filter's start-up and tail).
func rms(s []int16, edge int) float64 {
	sum := 0.0
	body := s[edge : len(s)-edge]
	for _, v := range body {
		sum += float64(v) * float64(v)
	}
	return math.Sqrt(sum / float64(len(body)))
}

// toneLevel measures the amplitude of freq in s (sampled at rate) by
// correlating with a sine and cosine over the body of the signal.
func toneLevel(s []int16, rate int, freq float64, edge int) float64 {
	var c, q float64
	body := s[edge : len(s)-edge]
	for i, v := range body {
		ph := 2 * math.Pi * freq * float64(i+edge) / float64(rate)
		c += float64(v) * math.Cos(ph)
		q += float64(v) * math.Sin(ph)
	}
	return 2 * math.Hypot(c, q) / float64(len(body))
}

func db(x float64) float64 { return 20 * math.Log10(x) }

func TestResamplerFrequencyResponse(t *testing.T) {
	const inRate, amp = 24000, 10000.0
	tests := []struct {
		name    string
		outRate int
		freq    float64
		pass    bool
	}{
		{"16k passes 1 kHz", 16000, 1000, true},
		{"16k passes 6 kHz", 16000, 6000, true},
		{"16k stops 10 kHz", 16000, 10000, false},
		{"16k stops 8.6 kHz", 16000, 8600, false},
		{"8k passes 440 Hz", 8000, 440, true},
		{"8k passes 3 kHz", 8000, 3000, true},
		{"8k stops 5 kHz", 8000, 5000, false},
		{"8k stops 11 kHz", 8000, 11000, false},
		{"22.05k passes 5 kHz", 22050, 5000, true},
		{"22.05k passes 9 kHz", 22050, 9000, true},
		{"44.1k passes 9 kHz", 44100, 9000, true},
		{"48k passes 2 kHz", 48000, 2000, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tone(tt.freq, inRate, inRate, amp) // one second
			out := resampleAll(inRate, tt.outRate, in, 997)
			require.Len(t, out, tt.outRate, "one second in, one second out")
			edge := tt.outRate / 20
			if tt.pass {
				level := toneLevel(out, tt.outRate, tt.freq, edge)
				t.Logf("passband gain %.3f dB", db(level/amp))
				assert.InDelta(t, 0, db(level/amp), 0.5, "passband gain %.2f dB", db(level/amp))
				return
			}
			att := db(rms(out, edge) / (amp / math.Sqrt2))
			t.Logf("stop-band level %.1f dB", att)
			assert.LessOrEqual(t, att, -40.0, "stop-band tone only %.1f dB down", att)
		})
	}
}

func TestResamplerRemovesUpsamplingImages(t *testing.T) {
	const inRate, outRate, amp = 24000, 48000, 10000.0
	out := resampleAll(inRate, outRate, tone(3000, inRate, inRate, amp), 480)
	// The image of 3 kHz sits at 21 kHz; it must be gone.
	edge := outRate / 20
	image := toneLevel(out, outRate, 21000, edge)
	assert.LessOrEqual(t, db(image/amp), -40.0, "image at 21 kHz only %.1f dB down", db(image/amp))
}

func TestResamplerChunkingDoesNotChangeOutput(t *testing.T) {
	in := tone(1234, 24000, 5000, 8000)
	whole := resampleAll(24000, 16000, in, len(in))
	for _, chunk := range []int{1, 7, 160, 4999} {
		assert.Equal(t, whole, resampleAll(24000, 16000, in, chunk), "chunk %d", chunk)
	}
}

func TestResamplerDCAndClipping(t *testing.T) {
	in := make([]int16, 2400)
	for i := range in {
		in[i] = math.MaxInt16
	}
	out := resampleAll(24000, 8000, in, 100)
	require.Len(t, out, 800)
	for _, v := range out[100:700] {
		assert.InDelta(t, math.MaxInt16, int(v), 2)
	}
}

func BenchmarkResample24kTo16k(b *testing.B) {
	in := tone(440, 24000, 24000, 8000)
	b.ResetTimer()
	for range b.N {
		resampleAll(24000, 16000, in, 2400)
	}
}
