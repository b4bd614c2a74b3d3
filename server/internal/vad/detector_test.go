package vad

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/config"
)

// signal is a synthetic test signal in float samples (full scale = 1).
type signal []float64

func seconds(d time.Duration) int { return samplesOf(d) }

// The voiced signal is silent about a quarter of the time (gaps between
// syllables, syllable edges), so a perfect detector scores about 0.75–0.8
// over a span of it.

// voiced is a speech-like sound: a harmonic series on a gliding pitch with
// a formant-like bump, shaped into syllables of uneven length separated by
// short gaps (about 4 syllables per second).
func voiced(n int, seed float64) signal { return voicedFloor(n, seed, 0) }

// voicedFloor is voiced with the envelope never below floor (0..1): legato
// speech without silent gaps.
func voicedFloor(n int, seed, floor float64) signal {
	syllables := []float64{0.18, 0.26, 0.14, 0.32, 0.22, 0.17, 0.29}
	gaps := []float64{0.04, 0.08, 0.03, 0.12, 0.06}
	env := make([]float64, n)
	for i, k, pos := 0, int(seed), 0.0; pos*audio.SampleRate < float64(n); i, k = i+1, k+1 {
		dur := syllables[k%len(syllables)]
		start := int(pos * audio.SampleRate)
		for j := 0; j < int(dur*audio.SampleRate) && start+j < n; j++ {
			env[start+j] = math.Max(floor, math.Pow(math.Sin(math.Pi*float64(j)/(dur*audio.SampleRate)), 0.7))
		}
		pos += dur + gaps[k%len(gaps)]
	}
	for i := range env {
		env[i] = math.Max(env[i], floor)
	}
	s := make(signal, n)
	var phase float64
	// Harmonic amplitudes change slowly: recompute them every 5 ms.
	const block = audio.SampleRate / 200
	var amps [40]float64
	harmonics := 0
	for i := range s {
		tt := float64(i) / audio.SampleRate
		f0 := 140 + 30*math.Sin(2*math.Pi*0.7*tt+seed)
		phase += 2 * math.Pi * f0 / audio.SampleRate
		if i%block == 0 {
			formant := 1200 + 600*math.Sin(2*math.Pi*1.3*tt+seed)
			harmonics = 0
			for h := 1; float64(h)*f0 < 4000 && h <= len(amps); h++ {
				fh := float64(h) * f0
				amps[h-1] = 1/float64(h) + 0.5*math.Exp(-((fh-formant)/300)*((fh-formant)/300))
				harmonics = h
			}
		}
		if env[i] == 0 {
			continue
		}
		var v float64
		for h := 1; h <= harmonics; h++ {
			v += amps[h-1] * math.Sin(float64(h)*phase)
		}
		s[i] = v * env[i]
	}
	return s
}

func white(n int, seed uint64) signal { return signal(makeNoise(noiseWhite, n, seed)) }
func brown(n int, seed uint64) signal { return signal(makeNoise(noiseBrown, n, seed)) }
func hum(n int) signal                { return signal(makeNoise(noiseHum50, n, 0)) }
func silence(n int) signal            { return make(signal, n) }

func sine(n int, freq float64) signal {
	s := make(signal, n)
	for i := range s {
		s[i] = math.Sin(2 * math.Pi * freq * float64(i) / audio.SampleRate)
	}
	return s
}

// at scales s to an RMS level in dBFS.
func (s signal) at(dbfs float64) signal {
	var p float64
	for _, v := range s {
		p += v * v
	}
	out := make(signal, len(s))
	if p == 0 {
		return out
	}
	g := math.Pow(10, dbfs/20) / math.Sqrt(p/float64(len(s)))
	for i, v := range s {
		out[i] = v * g
	}
	return out
}

// plus adds o to s from sample offset off.
func (s signal) plus(o signal, off int) signal {
	out := append(signal{}, s...)
	for i, v := range o {
		if off+i < len(out) {
			out[off+i] += v
		}
	}
	return out
}

// pcm converts to int16 at full scale 32768.
func (s signal) pcm() []int16 {
	out := make([]int16, len(s)/audio.FrameSamples*audio.FrameSamples)
	for i := range out {
		out[i] = clip16(s[i] * 32768)
	}
	return out
}

// labels runs a fresh EnergyDetector over s and returns its decisions.
func labels(s signal, cfg config.VAD) []bool {
	d := NewEnergyDetector(cfg)
	pcm := s.pcm()
	out := make([]bool, len(pcm)/audio.FrameSamples)
	for i := range out {
		out[i] = d.IsSpeech((*audio.Frame)(pcm[i*audio.FrameSamples:]))
	}
	return out
}

// fraction of frames in [from, to) labelled speech.
func fraction(l []bool, from, to time.Duration) float64 {
	a, b := int(from/audio.FrameDuration), int(to/audio.FrameDuration)
	b = min(b, len(l))
	n := 0
	for _, v := range l[a:b] {
		if v {
			n++
		}
	}
	return float64(n) / float64(b-a)
}

func TestEnergyDetectorSyntheticSignals(t *testing.T) {
	sec := time.Second
	n5 := seconds(5 * sec)
	type span struct {
		from, to time.Duration
		min, max float64 // bounds of the speech fraction in the span
	}
	tests := []struct {
		name  string
		sig   signal
		spans []span
	}{
		{name: "digital silence", sig: silence(n5), spans: []span{{0, 5 * sec, 0, 0}}},
		{name: "dither of one LSB", sig: white(n5, 1).at(-90), spans: []span{{0, 5 * sec, 0, 0}}},
		{name: "steady white noise", sig: white(n5, 2).at(-30), spans: []span{{0, 5 * sec, 0, 0.01}}},
		{name: "steady brown noise", sig: brown(n5, 3).at(-20), spans: []span{{0, 5 * sec, 0, 0.01}}},
		{name: "50 Hz hum", sig: hum(n5).at(-15), spans: []span{{0, 5 * sec, 0, 0.01}}},
		{name: "steady 1 kHz tone", sig: sine(n5, 1000).at(-25), spans: []span{{0, 5 * sec, 0, 0.01}}},
		{
			name:  "white noise starting mid-stream is learned",
			sig:   silence(n5).plus(white(seconds(4*sec), 4).at(-30), seconds(sec)),
			spans: []span{{0, sec, 0, 0}, {sec, 5 * sec, 0, 0.05}, {3 * sec, 5 * sec, 0, 0}},
		},
		{
			name:  "brown noise starting mid-stream is learned",
			sig:   silence(n5).plus(brown(seconds(4*sec), 5).at(-25), seconds(sec)),
			spans: []span{{0, sec, 0, 0}, {sec, 5 * sec, 0, 0.15}, {3 * sec, 5 * sec, 0, 0}},
		},
		{
			name:  "tone starting mid-stream ends as steady",
			sig:   silence(n5).plus(sine(seconds(4*sec), 700).at(-25), seconds(sec)),
			spans: []span{{sec, 5 * sec, 0, 0.15}, {3 * sec, 5 * sec, 0, 0}},
		},
		{
			name: "floor follows a noise that gets quieter quickly",
			sig: silence(n5).plus(white(seconds(2*sec), 13).at(-30), 0).
				plus(white(seconds(3*sec), 14).at(-55), seconds(2*sec)).
				plus(voiced(seconds(2*sec), 5).at(-43), seconds(3*sec)),
			spans: []span{{0, 3 * sec, 0, 0.02}, {3 * sec, 5 * sec, 0.6, 1}},
		},
		{
			name:  "voice over silence",
			sig:   silence(n5).plus(voiced(seconds(2*sec), 0).at(-25), seconds(2*sec)),
			spans: []span{{0, 2 * sec, 0, 0}, {2 * sec, 4 * sec, 0.7, 1}, {4100 * time.Millisecond, 5 * sec, 0, 0.05}},
		},
		{
			name: "voice in white noise at 10 dB SNR",
			sig: white(n5, 6).at(-35).
				plus(voiced(seconds(2*sec), 1).at(-25), seconds(2*sec)),
			spans: []span{{0, 2 * sec, 0, 0.02}, {2 * sec, 4 * sec, 0.6, 1}, {4100 * time.Millisecond, 5 * sec, 0, 0.05}},
		},
		{
			name: "voice over brown noise and hum at 10 dB SNR",
			sig: brown(n5, 7).at(-38).plus(hum(n5).at(-38), 0).
				plus(voiced(seconds(2*sec), 2).at(-25), seconds(2*sec)),
			spans: []span{{0, 2 * sec, 0, 0.02}, {2 * sec, 4 * sec, 0.7, 1}, {4100 * time.Millisecond, 5 * sec, 0, 0.05}},
		},
		{
			name:  "long voice in noise: floor does not learn speech",
			sig:   white(seconds(10*sec), 8).at(-40).plus(voicedFloor(seconds(9*sec), 3, 0.3).at(-28), seconds(sec)),
			spans: []span{{sec, 3 * sec, 0.6, 1}, {8 * sec, 10 * sec, 0.6, 1}},
		},
		{
			name:  "voice below the absolute floor",
			sig:   silence(n5).plus(voiced(seconds(2*sec), 4).at(-66), seconds(2*sec)),
			spans: []span{{0, 5 * sec, 0, 0}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := labels(tt.sig, config.VAD{})
			for _, sp := range tt.spans {
				f := fraction(l, sp.from, sp.to)
				assert.GreaterOrEqual(t, f, sp.min, "speech fraction %v–%v", sp.from, sp.to)
				assert.LessOrEqual(t, f, sp.max, "speech fraction %v–%v", sp.from, sp.to)
			}
		})
	}
}

func TestEnergyDetectorThresholdAndReset(t *testing.T) {
	sig := white(seconds(3*time.Second), 9).at(-40).
		plus(voiced(seconds(time.Second), 5).at(-34), seconds(time.Second))
	loose := fraction(labels(sig, config.VAD{Threshold: 4}), time.Second, 2*time.Second)
	strict := fraction(labels(sig, config.VAD{Threshold: 16}), time.Second, 2*time.Second)
	assert.Greater(t, loose, strict, "a higher threshold must detect less")

	d := NewEnergyDetector(config.VAD{})
	pcm := sig.pcm()
	first := make([]bool, len(pcm)/audio.FrameSamples)
	for i := range first {
		first[i] = d.IsSpeech((*audio.Frame)(pcm[i*audio.FrameSamples:]))
	}
	d.Reset()
	for i := range first {
		assert.Equal(t, first[i], d.IsSpeech((*audio.Frame)(pcm[i*audio.FrameSamples:])), "frame %d after Reset", i)
	}
}

func TestEnergyDetectorSetThreshold(t *testing.T) {
	sig := white(seconds(3*time.Second), 9).at(-40).
		plus(voiced(seconds(time.Second), 5).at(-34), seconds(time.Second))
	pcm := sig.pcm()
	run := func(d *EnergyDetector) []bool {
		out := make([]bool, len(pcm)/audio.FrameSamples)
		for i := range out {
			out[i] = d.IsSpeech((*audio.Frame)(pcm[i*audio.FrameSamples:]))
		}
		return out
	}

	tests := []struct {
		name string
		set  float64
		want float64
	}{
		{name: "raised", set: 16, want: 16},
		{name: "lowered", set: 4, want: 4},
		{name: "not positive means the default", set: 0, want: DefaultThreshold},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewEnergyDetector(config.VAD{Threshold: 10})
			d.SetThreshold(tt.set)
			assert.InDelta(t, tt.want, d.Threshold(), 0)
			assert.InDelta(t, tt.want*hysteresisRatio, d.exit, 0, "the stay margin follows the threshold")
			assert.Equal(t, run(NewEnergyDetector(config.VAD{Threshold: tt.want})), run(d),
				"set before the first frame = constructed with it")
		})
	}

	t.Run("applies from the next frame of a run under way", func(t *testing.T) {
		d := NewEnergyDetector(config.VAD{Threshold: 4})
		frames := len(pcm) / audio.FrameSamples
		i := 0
		for ; i < frames && !d.IsSpeech((*audio.Frame)(pcm[i*audio.FrameSamples:])); i++ {
		}
		require.Less(t, i, frames, "the loose detector finds the voice")
		// A stay margin above any band's capped rise ends the run at once.
		d.SetThreshold(2 * maxBandSNR / hysteresisRatio)
		assert.False(t, d.IsSpeech((*audio.Frame)(pcm[(i+1)*audio.FrameSamples:])))
	})

	t.Run("does not allocate", func(t *testing.T) {
		d := NewEnergyDetector(config.VAD{})
		f := (*audio.Frame)(pcm)
		assert.Zero(t, testing.AllocsPerRun(100, func() { d.SetThreshold(8); d.IsSpeech(f) }))
	})
}

func TestEnergyDetectorDoesNotAllocate(t *testing.T) {
	d := NewEnergyDetector(config.VAD{})
	pcm := white(audio.FrameSamples, 1).at(-30).pcm()
	f := (*audio.Frame)(pcm)
	assert.Zero(t, testing.AllocsPerRun(100, func() { d.IsSpeech(f) }))
}

// benchmarkSignal is 10 s of voice bursts in white noise.
func benchmarkSignal() []int16 {
	n := seconds(10 * time.Second)
	s := white(n, 11).at(-40)
	for off := 0; off < n; off += seconds(3 * time.Second) {
		s = s.plus(voiced(seconds(1500*time.Millisecond), float64(off)).at(-25), off)
	}
	return s.pcm()
}

func BenchmarkEnergyDetectorSegmenterFrame(b *testing.B) {
	pcm := benchmarkSignal()
	frames := len(pcm) / audio.FrameSamples
	seg := NewSegmenter(NewEnergyDetector(evalConfig()), evalConfig())
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		seg.Process((*audio.Frame)(pcm[i*audio.FrameSamples:]))
		i++
		if i == frames {
			i = 0
		}
	}
}

func TestEnergyDetectorAbsoluteFloor(t *testing.T) {
	// The per-band minimum floor alone already hides very quiet sounds;
	// lower it so this test sees the absolute floor on its own.
	run := func(level float64) float64 {
		d := NewEnergyDetector(config.VAD{})
		for b := range d.minFloor {
			d.minFloor[b] = minBandLevelDB
		}
		pcm := white(seconds(3*time.Second), 12).at(-88).plus(voiced(seconds(2*time.Second), 6).at(level), seconds(time.Second)).pcm()
		n := 0
		for i := range len(pcm) / audio.FrameSamples {
			if d.IsSpeech((*audio.Frame)(pcm[i*audio.FrameSamples:])) {
				n++
			}
		}
		return float64(n) / 100 // frames in the 2 s of voice
	}
	assert.Greater(t, run(AbsoluteFloorDBFS+10), 0.5, "control: audible voice is speech")
	assert.Zero(t, run(AbsoluteFloorDBFS-6), "voice below the absolute floor is never speech")
}
