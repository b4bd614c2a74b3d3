package main

import (
	"io"
	"math"
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/sdk/pcm"
	"github.com/parleyhq/parley/sdk/providerhttp/providertest"
)

// The resampler itself is sdk/pcm's and tested there; these tests check
// what the plugin makes of the provider's 24 kHz audio.

// tone returns n samples of a sine at freq Hz sampled at rate, amplitude amp.
func tone(freq float64, rate, n int, amp float64) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
	}
	return out
}

// rms is the root mean square of s, skipping edge samples at both ends
// (the filter's start-up and tail).
func rms(s []int16, edge int) float64 {
	sum := 0.0
	body := s[edge : len(s)-edge]
	for _, v := range body {
		sum += float64(v) * float64(v)
	}
	return math.Sqrt(sum / float64(len(body)))
}

// toneLevel measures the amplitude of freq in s (sampled at rate) by
// correlating with a sine and cosine over the body of the signal.
func toneLevel(s []int16, rate int, freq float64, edge int) float64 {
	var c, q float64
	body := s[edge : len(s)-edge]
	for i, v := range body {
		ph := 2 * math.Pi * freq * float64(i+edge) / float64(rate)
		c += float64(v) * math.Cos(ph)
		q += float64(v) * math.Sin(ph)
	}
	return 2 * math.Hypot(c, q) / float64(len(body))
}

func db(x float64) float64 { return 20 * math.Log10(x) }

// toneServer returns a plugin whose fake provider answers every sentence
// with one second of a freq Hz tone at 24 kHz, written in odd-sized
// pieces so that samples are split across reads.
func toneServer(t *testing.T, freq, amp float64) *plugin {
	t.Helper()
	fake, srv := newFake(t)
	fake.respond = func(w http.ResponseWriter, _ *http.Request, _ string) {
		w.WriteHeader(http.StatusOK)
		b := pcm.EncodeLE(nil, tone(freq, nativeRate, nativeRate, amp))
		for i := 0; len(b) > 0; i++ {
			n := min(oddSizes[i%len(oddSizes)]*111, len(b))
			_, _ = w.Write(b[:n])
			w.(http.Flusher).Flush()
			b = b[n:]
		}
	}
	return configured(t, srv.URL, nil)
}

// synthesizeAt speaks one sentence at rate and returns its samples.
func synthesizeAt(t *testing.T, p *plugin, rate int) []int16 {
	t.Helper()
	s, err := p.Synthesize(t.Context(), sdk.TTSConfig{SampleRate: rate})
	require.NoError(t, err)
	require.NoError(t, s.SendText("One second of tone."))
	require.NoError(t, s.CloseSend())
	chunks, err := providertest.Collect(t, s)
	require.ErrorIs(t, err, io.EOF)
	for _, c := range chunks {
		require.Equal(t, rate, c.SampleRate)
	}
	out, err := pcm.DecodeLE(nil, joinPCM(chunks))
	require.NoError(t, err)
	return out
}

func TestResampledFrequencyResponse(t *testing.T) {
	const amp = 10000.0
	tests := []struct {
		rate int
		freq float64
		pass bool
	}{
		{16000, 6000, true},
		{16000, 8600, false},
		{16000, 10000, false},
		{8000, 3000, true},
		{8000, 5000, false},
		{8000, 11000, false},
		{22050, 9000, true},
		{44100, 9000, true},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.rate)+"/"+strconv.FormatFloat(tt.freq, 'f', 0, 64), func(t *testing.T) {
			out := synthesizeAt(t, toneServer(t, tt.freq, amp), tt.rate)
			require.Len(t, out, tt.rate, "one second in, one second out")
			edge := tt.rate / 20
			if tt.pass {
				level := toneLevel(out, tt.rate, tt.freq, edge)
				assert.InDelta(t, 0, db(level/amp), 0.5, "passband gain %.2f dB", db(level/amp))
				return
			}
			att := db(rms(out, edge) / (amp / math.Sqrt2))
			assert.LessOrEqual(t, att, -60.0, "a tone above the new Nyquist frequency is only %.1f dB down (aliased)", att)
		})
	}
}

func TestResampledRemovesUpsamplingImages(t *testing.T) {
	const rate, amp = 48000, 10000.0
	out := synthesizeAt(t, toneServer(t, 3000, amp), rate)
	// The image of 3 kHz sits at 21 kHz; it must be gone.
	image := toneLevel(out, rate, 21000, rate/20)
	assert.LessOrEqual(t, db(image/amp), -60.0, "image at 21 kHz only %.1f dB down", db(image/amp))
}

func TestUnconvertibleRateIsRefused(t *testing.T) {
	p := toneServer(t, 1000, 1000)
	_, err := p.Synthesize(t.Context(), sdk.TTSConfig{SampleRate: 12347}) // 24000:12347 needs 12347 filter phases
	var se *sdk.Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, sdk.CodeInvalidArgument, se.Code)
	assert.Equal(t, "sample_rate", se.Details["field"])
}
