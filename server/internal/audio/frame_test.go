package audio

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The PCM16 codec itself is tested in sdk/pcm; these check the wrappers.
func TestPCM16LEWrappers(t *testing.T) {
	dst, err := DecodePCM16LE([]int16{7}, EncodePCM16LE([]byte{}, []int16{2, math.MinInt16}))
	require.NoError(t, err)
	assert.Equal(t, []int16{7, 2, math.MinInt16}, dst)
}

func TestDecodeOddLength(t *testing.T) {
	dst := []int16{5}
	out, err := DecodePCM16LE(dst, []byte{1, 2, 3})
	require.ErrorIs(t, err, ErrOddLength)
	assert.Equal(t, []int16{5}, out)
}

func TestFrameAppendBytes(t *testing.T) {
	var f Frame
	for i := range f {
		f[i] = int16(i*97 - 15000)
	}
	b := f.AppendBytes([]byte("x"))
	require.Len(t, b, 1+FrameBytes)
	s, err := DecodePCM16LE(nil, b[1:])
	require.NoError(t, err)
	assert.Equal(t, f[:], s)
}

func TestFormatConstants(t *testing.T) {
	assert.Equal(t, FrameSamples, int(int64(SampleRate)*int64(FrameDuration)/1e9))
	assert.Equal(t, FrameBytes, 2*FrameSamples)
}

func TestFramer(t *testing.T) {
	const total = 5*FrameSamples + 123
	in := make([]int16, total)
	for i := range in {
		in[i] = int16(i % 30000)
	}
	tests := []struct {
		name  string
		sizes []int
	}{
		{name: "one call", sizes: []int{total}},
		{name: "single samples", sizes: []int{1}},
		{name: "odd chunks", sizes: []int{7, 333, 1, 640, 19}},
		{name: "whole frames", sizes: []int{FrameSamples}},
		{name: "frame and a half", sizes: []int{FrameSamples + FrameSamples/2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				fr  Framer
				got []int16
				n   int
			)
			for off, k := 0, 0; off < total; k++ {
				sz := min(tt.sizes[k%len(tt.sizes)], total-off)
				fr.Push(in[off:off+sz], func(f *Frame) {
					got = append(got, f[:]...)
					n++
				})
				off += sz
			}
			assert.Equal(t, 5, n)
			assert.Equal(t, 123, fr.Pending())
			assert.Equal(t, in[:5*FrameSamples], got)
			fr.Reset()
			assert.Zero(t, fr.Pending())
		})
	}
}

func TestLevels(t *testing.T) {
	square := make([]int16, 1000)
	sine := make([]int16, 16000)
	for i := range square {
		square[i] = math.MaxInt16
		if i%2 == 1 {
			square[i] = -math.MaxInt16
		}
	}
	for i := range sine {
		sine[i] = int16(16384 * math.Sin(2*math.Pi*1000*float64(i)/16000))
	}
	tests := []struct {
		name string
		s    []int16
		rms  float64
		dbfs float64
	}{
		{name: "empty", s: nil, rms: 0, dbfs: MinDBFS},
		{name: "digital silence", s: make([]int16, 320), rms: 0, dbfs: MinDBFS},
		{name: "full-scale square", s: square, rms: 32767, dbfs: 20 * math.Log10(32767.0/32768)},
		{name: "half-scale sine", s: sine, rms: 16384 / math.Sqrt2, dbfs: -6.0206 - 3.0103},
		{name: "one LSB", s: []int16{1, -1}, rms: 1, dbfs: -90.309},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.InDelta(t, tt.rms, RMS(tt.s), 0.5)
			assert.InDelta(t, tt.dbfs, DBFS(tt.s), 0.01)
			assert.GreaterOrEqual(t, DBFS(tt.s), MinDBFS)
		})
	}
}
