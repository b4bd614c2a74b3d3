package plugintest

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"time"
)

const (
	toneHz         = 440.0
	toneAmplitude  = 8000.0
	noiseAmplitude = 500.0
	// toneSeed makes Tone deterministic.
	toneSeed = 0x7061726c6579
)

// Tone returns d of a 440 Hz tone with a little noise as PCM16LE mono at
// sampleRate: audio that exercises an STT plugin without needing speech.
// The same arguments always give the same bytes.
func Tone(sampleRate int, d time.Duration) []byte {
	n := int(int64(sampleRate) * int64(d) / int64(time.Second))
	rng := rand.New(rand.NewPCG(toneSeed, toneSeed)) //nolint:gosec // test audio, not security.
	out := make([]byte, n*bytesPerSample)
	for i := range n {
		v := toneAmplitude*math.Sin(2*math.Pi*toneHz*float64(i)/float64(sampleRate)) +
			noiseAmplitude*(rng.Float64()*2-1)
		binary.LittleEndian.PutUint16(out[i*bytesPerSample:], uint16(int16(v)))
	}
	return out
}
