package audio

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Parley's internal audio format.
const (
	// SampleRate is Parley's internal sample rate in Hz.
	SampleRate = 16000
	// FrameDuration is the duration of one Frame.
	FrameDuration = 20 * time.Millisecond
	// FrameSamples is the number of samples in one Frame at SampleRate.
	FrameSamples = 320
	// FrameBytes is the size of one Frame as PCM16LE bytes.
	FrameBytes = FrameSamples * bytesPerSample
)

// bytesPerSample is the size of one PCM16 sample.
const bytesPerSample = 2

// Frame is 20 ms of 16 kHz mono PCM16 audio.
type Frame [FrameSamples]int16

// AppendBytes appends the frame as PCM16LE bytes to dst and returns it.
func (f *Frame) AppendBytes(dst []byte) []byte {
	return EncodePCM16LE(dst, f[:])
}

// DecodePCM16LE appends the samples of little-endian PCM16 bytes b to dst
// and returns it. len(b) must be even (ErrOddLength otherwise, with dst
// unchanged).
func DecodePCM16LE(dst []int16, b []byte) ([]int16, error) {
	if len(b)%bytesPerSample != 0 {
		return dst, fmt.Errorf("decode %d bytes: %w", len(b), ErrOddLength)
	}
	dst = grow(dst, len(b)/bytesPerSample)
	for i := 0; i+1 < len(b); i += bytesPerSample {
		dst = append(dst, int16(binary.LittleEndian.Uint16(b[i:])))
	}
	return dst, nil
}

// EncodePCM16LE appends samples s as little-endian bytes to dst and returns
// it.
func EncodePCM16LE(dst []byte, s []int16) []byte {
	if need := len(dst) + len(s)*bytesPerSample; need > cap(dst) {
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
