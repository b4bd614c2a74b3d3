package sessiontest

import (
	"math"
	"math/rand/v2"
	"time"
)

// Synthetic voice parameters: a 140 Hz glottal-like harmonic series with
// falling harmonic weights and a 4 Hz syllable-rate amplitude modulation,
// which the energy VAD accepts as speech (energy well above the floor,
// speech-like spectrum), unlike steady tones or white noise.
const (
	voiceF0Hz      = 140.0
	voiceHarmonics = 12
	voiceAmplitude = 9000.0
	syllableHz     = 4.0
	// The envelope swings between amBase-amDepth and amBase+amDepth.
	amBase  = 0.55
	amDepth = 0.45
	// harmonicSumPeak roughly normalizes the harmonic sum to ±1.
	harmonicSumPeak = 2.5
	noiseAmplitude  = 40
	framesPerSecond = 50
	bytesPerSample  = 2
)

// Speech returns d of synthetic voiced speech at rate.
func Speech(d time.Duration, rate int) []int16 {
	n := int(d * time.Duration(rate) / time.Second)
	out := make([]int16, n)
	for i := range out {
		t := float64(i) / float64(rate)
		am := amBase + amDepth*math.Sin(2*math.Pi*syllableHz*t)
		v := 0.0
		for h := 1; h <= voiceHarmonics; h++ {
			v += math.Sin(2*math.Pi*voiceF0Hz*float64(h)*t) / float64(h)
		}
		out[i] = int16(voiceAmplitude * am * v / harmonicSumPeak)
	}
	return out
}

// Silence returns d of faint noise at rate (a quiet room, not digital zero).
func Silence(d time.Duration, rate int) []int16 {
	n := int(d * time.Duration(rate) / time.Second)
	rng := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // test noise, not security.
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(rng.IntN(2*noiseAmplitude+1) - noiseAmplitude)
	}
	return out
}

// PCM encodes samples as PCM16LE bytes.
func PCM(samples []int16) []byte {
	out := make([]byte, 0, 2*len(samples))
	for _, v := range samples {
		out = append(out, byte(v), byte(uint16(v)>>8))
	}
	return out
}

// Frames cuts PCM16LE bytes into 20 ms frames at rate (the last may be short).
func Frames(pcm []byte, rate int) [][]byte {
	size := rate / framesPerSecond * bytesPerSample
	var out [][]byte
	for len(pcm) > 0 {
		n := min(size, len(pcm))
		out = append(out, pcm[:n])
		pcm = pcm[n:]
	}
	return out
}
