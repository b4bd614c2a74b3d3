package pcm

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPCM16LERoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		samples []int16
		bytes   []byte
	}{
		{name: "empty", samples: []int16{}, bytes: []byte{}},
		{name: "extremes", samples: []int16{0, 1, -1, math.MaxInt16, math.MinInt16},
			bytes: []byte{0, 0, 1, 0, 0xff, 0xff, 0xff, 0x7f, 0x00, 0x80}},
		{name: "little endian", samples: []int16{0x1234}, bytes: []byte{0x34, 0x12}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := EncodeLE(nil, tt.samples)
			assert.Equal(t, tt.bytes, append([]byte{}, b...))
			s, err := DecodeLE(nil, b)
			require.NoError(t, err)
			assert.Equal(t, tt.samples, append([]int16{}, s...))
		})
	}
}

func TestDecodeAppends(t *testing.T) {
	dst := []int16{7}
	dst, err := DecodeLE(dst, []byte{2, 0, 3, 0})
	require.NoError(t, err)
	assert.Equal(t, []int16{7, 2, 3}, dst)
	enc := EncodeLE([]byte{9}, []int16{1})
	assert.Equal(t, []byte{9, 1, 0}, enc)
}

func TestDecodeOddLength(t *testing.T) {
	dst := []int16{5}
	out, err := DecodeLE(dst, []byte{1, 2, 3})
	require.ErrorIs(t, err, ErrOddLength)
	assert.Equal(t, []int16{5}, out)
}
