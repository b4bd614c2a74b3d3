package audio

import (
	"fmt"

	"github.com/parleyhq/parley/sdk/pcm"
)

// Filter is the polyphase filter bank designed for one pair of rates (see
// sdk/pcm, where the resampler lives so that plugins share it).
type Filter = pcm.Filter

// Resampler converts a mono PCM16 stream between rates with a band-limited
// low-pass filter (see pcm.Resampler).
type Resampler = pcm.Resampler

// The sample rates the server's resampler supports, in Hz.
const (
	Rate8k    = 8000
	Rate16k   = 16000
	Rate22k05 = 22050
	Rate24k   = 24000
	Rate44k1  = 44100
	Rate48k   = 48000
)

// DesignFilter designs the filter bank for converting between two of the
// server's supported rates (ErrUnsupportedRate otherwise). For from == to
// it returns an identity filter.
func DesignFilter(from, to int) (*Filter, error) {
	if err := checkRates(from, to); err != nil {
		return nil, err
	}
	f, err := pcm.DesignFilter(from, to)
	if err != nil {
		return nil, fmt.Errorf("audio: %w", err)
	}
	return f, nil
}

// NewResampler returns a resampler from one rate to another. Supported:
// any pair among 8000, 16000, 24000, 48000, 44100 and 22050 Hz
// (ErrUnsupportedRate otherwise). from == to is a copy.
func NewResampler(from, to int) (*Resampler, error) {
	f, err := DesignFilter(from, to)
	if err != nil {
		return nil, err
	}
	return pcm.NewResamplerFilter(f), nil
}

// NewResamplerFilter returns a resampler using a filter from DesignFilter
// or a FilterCache.
func NewResamplerFilter(f *Filter) *Resampler { return pcm.NewResamplerFilter(f) }

// FilterCache designs each supported rate pair's Filter once and hands the
// same immutable Filter to every caller. It is safe for concurrent use;
// create one per server and share it. The zero value is ready to use.
type FilterCache struct {
	cache pcm.FilterCache
}

// Get returns the filter for from → to, designing it on first use.
func (c *FilterCache) Get(from, to int) (*Filter, error) {
	if err := checkRates(from, to); err != nil {
		return nil, err
	}
	f, err := c.cache.Get(from, to)
	if err != nil {
		return nil, fmt.Errorf("audio: %w", err)
	}
	return f, nil
}

// checkRates rejects rates outside the server's set.
func checkRates(from, to int) error {
	if !isSupported(from) || !isSupported(to) {
		return fmt.Errorf("resample %d Hz to %d Hz: %w", from, to, ErrUnsupportedRate)
	}
	return nil
}

// isSupported reports whether the server resamples from or to rate (Hz).
func isSupported(rate int) bool {
	switch rate {
	case Rate8k, Rate16k, Rate22k05, Rate24k, Rate44k1, Rate48k:
		return true
	default:
		return false
	}
}
