package audio

import (
	"errors"

	"github.com/parleyhq/parley/sdk/pcm"
)

// ErrOddLength is returned when PCM16 bytes have an odd length (the same
// sentinel as pcm.ErrOddLength).
var ErrOddLength = pcm.ErrOddLength

// ErrUnsupportedRate is returned for a sample rate the resampler does not
// support (the same sentinel as pcm.ErrUnsupportedRate).
var ErrUnsupportedRate = pcm.ErrUnsupportedRate

// ErrUnsupportedWAV is returned by ReadWAV for any input that is not a WAV
// file this package reads (16-bit PCM, mono or stereo); the wrapped message
// says what was found. Structurally broken files also match ErrMalformedWAV.
var ErrUnsupportedWAV = errors.New("audio: unsupported WAV")

// ErrMalformedWAV is returned (together with ErrUnsupportedWAV) when a WAV
// file's RIFF structure is broken: bad magic, truncated chunks, missing fmt
// or data chunk, sizes beyond the limits.
var ErrMalformedWAV = errors.New("audio: malformed WAV")

// ErrInvalidPCM is returned by WriteWAV for a PCM value it cannot write
// (non-positive sample rate, too many samples).
var ErrInvalidPCM = errors.New("audio: invalid PCM")

// ErrOpus wraps every libopus failure.
var ErrOpus = errors.New("audio: opus")
