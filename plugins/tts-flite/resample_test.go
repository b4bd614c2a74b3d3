package main

import (
	"math"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/sdk/pcm"
)

func rms(s []int16) float64 {
	if len(s) == 0 {
		return 0
	}
	var sum float64
	for _, v := range s {
		sum += float64(v) * float64(v)
	}
	return math.Sqrt(sum / float64(len(s)))
}

// TestOutputIsBandLimitedResampling checks that audio at a rate other than
// the voice's is the voice's own audio through sdk/pcm's band-limited
// resampler (whose fidelity and anti-aliasing sdk/pcm tests): same length
// rule, same samples. kal16 is deterministic, so the native audio is a
// reference.
func TestOutputIsBandLimitedResampling(t *testing.T) {
	const text = "Resampling must not alias."
	e := newTestEngine(t, "")
	native := samplesOf(speak(t, e, sdk.TTSConfig{Voice: "kal16", SampleRate: rate16k}, text))
	require.NotEmpty(t, native)
	for _, rate := range []int{8000, 11025, 22050, 24000, 48000} {
		t.Run(strconv.Itoa(rate), func(t *testing.T) {
			chunks := speak(t, e, sdk.TTSConfig{Voice: "kal16", SampleRate: rate}, text)
			for _, c := range chunks {
				assert.Equal(t, rate, c.SampleRate)
			}
			got := samplesOf(chunks)
			r, err := pcm.NewResampler(rate16k, rate)
			require.NoError(t, err)
			want := r.Flush(r.Process(nil, native))
			require.Len(t, got, (len(native)*rate+rate16k-1)/rate16k, "ceil(n × to/from) samples")
			assert.Equal(t, want, got)
		})
	}
}

// TestDownsamplingRemovesHighFrequencies: at 8 kHz nothing of the 16 kHz
// voice above 4 kHz may fold back, so the output is quieter than naive
// decimation (which keeps every second sample and all its energy).
func TestDownsamplingRemovesHighFrequencies(t *testing.T) {
	const text = "She sells sea shells by the sea shore."
	e := newTestEngine(t, "")
	native := samplesOf(speak(t, e, sdk.TTSConfig{Voice: "kal16", SampleRate: rate16k}, text))
	down := samplesOf(speak(t, e, sdk.TTSConfig{Voice: "kal16", SampleRate: 8000}, text))
	naive := make([]int16, 0, len(native)/2)
	for i := 0; i < len(native); i += 2 {
		naive = append(naive, native[i])
	}
	assert.Less(t, rms(down), rms(naive), "band-limited output has less energy than decimation")
	assert.Greater(t, rms(down), 0.5*rms(naive), "speech below 4 kHz is kept")
}
