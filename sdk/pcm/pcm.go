// Package pcm holds the PCM16 helpers a plugin vendor needs to hand
// Parley audio in the format it asked for: little-endian PCM16 encoding
// and decoding (sdk.EncodingPCM16LE) and a band-limited sample-rate
// converter (Resampler: Kaiser-windowed sinc, polyphase, about 75 dB of
// stop-band attenuation, allocation-free in steady state) for engines
// whose native rate differs from the requested one. The server uses the
// same code.
//
// Nothing in this package starts goroutines or keeps package-level state;
// a Resampler belongs to one stream and is not safe for concurrent use,
// while Filter and FilterCache may be shared.
package pcm

import (
	"encoding/binary"
	"fmt"
)

// BytesPerSample is the size of one PCM16 sample in bytes.
const BytesPerSample = 2

// DecodeLE appends the samples of little-endian PCM16 bytes b to dst and
// returns it. len(b) must be even (ErrOddLength otherwise, with dst
// unchanged).
func DecodeLE(dst []int16, b []byte) ([]int16, error) {
	if len(b)%BytesPerSample != 0 {
		return dst, fmt.Errorf("decode %d bytes: %w", len(b), ErrOddLength)
	}
	dst = grow(dst, len(b)/BytesPerSample)
	for i := 0; i+1 < len(b); i += BytesPerSample {
		dst = append(dst, int16(binary.LittleEndian.Uint16(b[i:])))
	}
	return dst, nil
}

// EncodeLE appends samples s as little-endian PCM16 bytes to dst and
// returns it.
func EncodeLE(dst []byte, s []int16) []byte {
	if need := len(dst) + len(s)*BytesPerSample; need > cap(dst) {
		grown := make([]byte, len(dst), need)
		copy(grown, dst)
		dst = grown
	}
	for _, v := range s {
		dst = binary.LittleEndian.AppendUint16(dst, uint16(v))
	}
	return dst
}

// grow makes room for n more samples in s with at most one allocation.
func grow(s []int16, n int) []int16 {
	if need := len(s) + n; need > cap(s) {
		grown := make([]int16, len(s), need)
		copy(grown, s)
		return grown
	}
	return s
}
