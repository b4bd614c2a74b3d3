package audio

import (
	"fmt"
	"time"

	"github.com/parleyhq/parley/sdk/pcm"
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
const bytesPerSample = pcm.BytesPerSample

// Frame is 20 ms of 16 kHz mono PCM16 audio.
type Frame [FrameSamples]int16

// AppendBytes appends the frame as PCM16LE bytes to dst and returns it.
func (f *Frame) AppendBytes(dst []byte) []byte {
	return EncodePCM16LE(dst, f[:])
}

// DecodePCM16LE appends the samples of little-endian PCM16 bytes b to dst
// and returns it. len(b) must be even (ErrOddLength otherwise, with dst
// unchanged). See pcm.DecodeLE.
func DecodePCM16LE(dst []int16, b []byte) ([]int16, error) {
	out, err := pcm.DecodeLE(dst, b)
	if err != nil {
		return out, fmt.Errorf("audio: %w", err)
	}
	return out, nil
}

// EncodePCM16LE appends samples s as little-endian bytes to dst and returns
// it. See pcm.EncodeLE.
func EncodePCM16LE(dst []byte, s []int16) []byte { return pcm.EncodeLE(dst, s) }
