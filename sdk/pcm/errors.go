package pcm

import "errors"

// ErrOddLength is returned when PCM16 bytes have an odd length.
var ErrOddLength = errors.New("pcm: odd number of PCM16 bytes")

// ErrUnsupportedRate is returned for a pair of sample rates the resampler
// does not convert (see Supported).
var ErrUnsupportedRate = errors.New("pcm: unsupported sample rate")
