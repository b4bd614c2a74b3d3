package audio

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk/pcm"
)

// The resampler itself is tested in sdk/pcm; these tests check the
// server's wrappers: its narrower rate set and the shared filters.

// tone is amp × sin(2π f t) sampled at rate for n samples (also used by
// the Opus and WAV tests).
func tone(freq, amp float64, rate, n int) []int16 {
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(math.Round(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate))))
	}
	return s
}

func TestResamplerServerRates(t *testing.T) {
	rates := []int{Rate8k, Rate16k, Rate22k05, Rate24k, Rate44k1, Rate48k}
	for _, from := range rates {
		for _, to := range rates {
			t.Run(fmt.Sprintf("%d_to_%d", from, to), func(t *testing.T) {
				r, err := NewResampler(from, to)
				require.NoError(t, err)
				out := r.Flush(r.Process(nil, make([]int16, from/10)))
				assert.Len(t, out, to/10)
			})
		}
	}
}

func TestResamplerUnsupported(t *testing.T) {
	for _, p := range [][2]int{{11025, 16000}, {16000, 32000}, {16000, 96000}, {0, 16000}, {-8000, 8000}} {
		_, err := NewResampler(p[0], p[1])
		require.ErrorIs(t, err, ErrUnsupportedRate, "%v", p)
		_, err = DesignFilter(p[0], p[1])
		require.ErrorIs(t, err, ErrUnsupportedRate, "%v", p)
		var c FilterCache
		_, err = c.Get(p[0], p[1])
		require.ErrorIs(t, err, ErrUnsupportedRate, "%v", p)
	}
}

func TestFilterCacheShares(t *testing.T) {
	var c FilterCache
	a, err := c.Get(48000, 16000)
	require.NoError(t, err)
	b, err := c.Get(48000, 16000)
	require.NoError(t, err)
	assert.Same(t, a, b)
	in := tone(1000, 8000, 48000, 4800)
	ref, err := pcm.NewResampler(48000, 16000)
	require.NoError(t, err)
	want := ref.Flush(ref.Process(nil, in))
	r := NewResamplerFilter(a)
	assert.Equal(t, want, r.Flush(r.Process(nil, in)))
}
