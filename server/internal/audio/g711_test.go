package audio_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/audio"
)

// TestG711Reference checks codes against the tables of ITU-T G.711
// (Table 2a μ-law, Table 1a A-law: code words for the positive and
// negative extremes, zero and segment edges, with even-bit inversion for
// A-law), scaled from the 14-/13-bit reconstruction levels to 16 bits.
func TestG711Reference(t *testing.T) {
	for _, tc := range []struct {
		code byte
		want int16
	}{
		{0x80, 32124}, {0x00, -32124}, // largest magnitude
		{0xFF, 0}, {0x7F, 0}, // ±zero
		{0xFE, 8}, {0x7E, -8}, // the smallest non-zero levels
		{0xEF, 132}, {0xDF, 396}, {0xCF, 924}, {0xBF, 1980}, {0xAF, 4092}, {0x9F, 8316}, {0x8F, 16764}, // segment starts
	} {
		assert.Equal(t, tc.want, audio.MulawDecode(tc.code), "μ-law 0x%02X", tc.code)
	}
	for _, tc := range []struct {
		code byte
		want int16
	}{
		{0xAA, 32256}, {0x2A, -32256}, // largest magnitude
		{0xD5, 8}, {0x55, -8}, // smallest magnitudes
		{0xC5, 264}, {0xF5, 528}, {0xE5, 1056}, {0x95, 2112}, {0x85, 4224}, {0xB5, 8448}, {0xA5, 16896}, // segment starts
	} {
		assert.Equal(t, tc.want, audio.AlawDecode(tc.code), "A-law 0x%02X", tc.code)
	}
	assert.Equal(t, byte(0xFF), audio.MulawEncode(0))
	assert.Equal(t, byte(0x80), audio.MulawEncode(math.MaxInt16))
	assert.Equal(t, byte(0x00), audio.MulawEncode(math.MinInt16))
	assert.Equal(t, byte(0xD5), audio.AlawEncode(0))
	assert.Equal(t, byte(0xAA), audio.AlawEncode(math.MaxInt16))
	assert.Equal(t, byte(0x2A), audio.AlawEncode(math.MinInt16))
}

// TestG711RoundTrip: every code decodes to a level that encodes back to
// the same code (μ-law's two zeros both decode to 0), and encoding is
// monotonic: quantisation never reorders samples.
func TestG711RoundTrip(t *testing.T) {
	for c := 0; c < 256; c++ {
		code := byte(c)
		if code != 0x7F {
			assert.Equal(t, code, audio.MulawEncode(audio.MulawDecode(code)), "μ-law 0x%02X", code)
		}
		assert.Equal(t, code, audio.AlawEncode(audio.AlawDecode(code)), "A-law 0x%02X", code)
	}
	prevU, prevA := int16(math.MinInt16), int16(math.MinInt16)
	for s := math.MinInt16; s <= math.MaxInt16; s += 7 {
		u := audio.MulawDecode(audio.MulawEncode(int16(s)))
		a := audio.AlawDecode(audio.AlawEncode(int16(s)))
		require.GreaterOrEqual(t, u, prevU, "μ-law monotonic at %d", s)
		require.GreaterOrEqual(t, a, prevA, "A-law monotonic at %d", s)
		prevU, prevA = u, a
	}
}

// TestG711SNR: a speech-level tone keeps the ≈ 38 dB signal-to-noise
// ratio G.711 is known for.
func TestG711SNR(t *testing.T) {
	const n = audio.G711Rate
	pcm := make([]byte, 0, 2*n)
	for i := 0; i < n; i++ {
		s := int16(8000 * math.Sin(2*math.Pi*440*float64(i)/audio.G711Rate))
		pcm = append(pcm, byte(s), byte(uint16(s)>>8))
	}
	for _, law := range []audio.G711{audio.Mulaw, audio.Alaw} {
		codes := law.Encode(nil, pcm)
		require.Len(t, codes, n)
		back := law.Decode(nil, codes)
		var sig, noise float64
		for i := 0; i < n; i++ {
			x := float64(int16(uint16(pcm[2*i]) | uint16(pcm[2*i+1])<<8))
			y := float64(int16(uint16(back[2*i]) | uint16(back[2*i+1])<<8))
			sig += x * x
			noise += (x - y) * (x - y)
		}
		snr := 10 * math.Log10(sig/noise)
		assert.Greater(t, snr, 35.0, "law %d", law)
	}
}

func BenchmarkG711(b *testing.B) {
	pcm := make([]byte, 2*160) // one 20 ms frame at 8 kHz
	codes := make([]byte, 0, 160)
	out := make([]byte, 0, 2*160)
	b.ReportAllocs()
	for b.Loop() {
		codes = audio.Mulaw.Encode(codes[:0], pcm)
		out = audio.Mulaw.Decode(out[:0], codes)
	}
}
