package vad

import (
	"math"
	"slices"

	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/config"
)

// Detector decides, frame by frame, whether a 20 ms frame holds speech.
// Implementations keep their own adaptive state.
type Detector interface {
	// IsSpeech reports whether f holds speech, updating the detector's
	// state.
	IsSpeech(f *audio.Frame) bool
	// Reset forgets everything learned about the stream.
	Reset()
}

// Tunables of EnergyDetector.
const (
	// DefaultThreshold is the entry threshold in dB used when
	// config.VAD.Threshold is not positive: how far above their noise
	// floors the topBands loudest-above-floor bands must be, on average,
	// to start speech. The evaluation on generated speech is good from 8
	// to 12 dB; higher values lose quiet speech in white noise.
	DefaultThreshold = 12.0
	// hysteresisRatio sets the exit threshold: speech continues while the
	// level stays above Threshold × hysteresisRatio.
	hysteresisRatio = 0.5
	// AbsoluteFloorDBFS is the frame level (dBFS) below which nothing is
	// speech, whatever the noise floor: digital silence and dither never
	// count.
	AbsoluteFloorDBFS = -60.0
	// floorDownRate is the fraction of the distance the noise floor moves
	// per frame when the level drops below it (fast).
	floorDownRate = 0.3
	// floorDropDB is how far below the floor a band level must fall for the
	// floor to follow it quickly; smaller dips move it as slowly as rises,
	// so the floor tracks the median of a steady noise, not its dips.
	floorDropDB = 8.0
	// floorUpStep is how far (dB per frame) the floor may rise on a
	// non-speech frame: 2.5 dB/s, slow enough not to learn quiet speech.
	floorUpStep = 0.05
	// floorNoiseRate is the fraction of the distance the floor rises per
	// frame on frames the spectral features call noise, so a noise that
	// starts mid-stream is learned within about half a second.
	floorNoiseRate = 0.1
	// minBandLevelDB keeps band levels of digital silence finite.
	minBandLevelDB = -130.0
	// minFloorDBFS is the lowest noise floor, as the level (dBFS) of a
	// white noise: bands that carry no noise at all (digital silence,
	// or above a hum) do not make faint sounds look like loud speech.
	minFloorDBFS = -65.0
	// topBands is how many of the bands with the highest SNR the decision
	// averages.
	topBands = 5
	// maxBandSNR caps one band's rise above its floor (dB) in the decision
	// and the flatness measure: as high as any configured Threshold, far
	// above any real noise step.
	maxBandSNR = 60.0
	// maxExcessFlatness is the highest spectral flatness of the level
	// above the noise floor (1 = every band rose equally) that may start
	// speech: a broadband level step of steady noise is flat, speech has
	// formants.
	maxExcessFlatness = 0.6
	// steadyFrames is the window (frames) of the steadiness check.
	steadyFrames = 25
	// steadyBlock is the block length (frames) whose mean levels the
	// steadiness check compares.
	steadyBlock = 5
	// steadyTop is how many of the most-varying bands the steadiness check
	// averages.
	steadyTop = 3
	// steadyStdDB is the variation (dB, see pushHistory) below which a
	// sound counts as steady noise, not speech.
	steadyStdDB = 2.0
	// warmupFrames is how many frames the floor follows the level in both
	// directions at the start of a stream.
	warmupFrames = 5
)

// Spectral analysis.
const (
	// dbToNeper converts a power ratio in dB to its natural logarithm.
	dbToNeper = math.Ln10 / 10
	fftSize   = 512
	// maxBin is one past the highest FFT bin the bands use (6 kHz).
	maxBin = 192
	binHz  = float64(audio.SampleRate) / fftSize
	// fullScale is the magnitude of the most negative PCM16 sample.
	fullScale = 32768
)

// bandEdgesHz are the edges of the analysis bands covering the speech band
// (150 Hz to 6 kHz); below it live hum and most of brown noise. As an
// array constant expression it is copied, never shared.
func bandEdgesHz() [numBands + 1]float64 {
	return [numBands + 1]float64{150, 300, 450, 600, 800, 1000, 1250, 1500, 1800, 2100, 2500, 3000, 3500, 4000, 5000, 6000}
}

// numBands is the number of analysis bands.
const numBands = 15

// EnergyDetector is the built-in pure-Go detector. Per frame it computes a
// 512-point spectrum and the levels of 15 bands between 150 Hz and 6 kHz
// (below that live hum and most of brown noise), keeps an adaptive noise
// floor per band (follows the median of steady noise, falls quickly when
// the level drops, rises slowly and never while in speech, never below the
// level of a -65 dBFS white noise) and decides speech on the mean rise
// above the floor of the 5 bands that rose most — speech stands out in a
// few formant bands even when the noise is loud — with hysteresis: enter at
// Threshold, stay down to half of it. Two spectral features keep steady noise out:
// the flatness of the rise above the floor (a noise level step lifts every
// band alike, speech does not) gates speech onset, and a steadiness check
// (band levels that barely move for half a second) ends a "speech" run that
// is really a noise that started, letting the floor learn it. A frame below
// AbsoluteFloorDBFS is never speech.
type EnergyDetector struct {
	enter, exit float64
	fft         *realFFT
	window      [audio.FrameSamples]float32
	bandLo      [numBands]int
	bandHi      [numBands]int
	// minFloor is each band's lowest floor (dB), from minFloorDBFS.
	minFloor [numBands]float64
	windowed [audio.FrameSamples]float32
	power    [maxBin]float64

	floor    [numBands]float64
	frames   int
	speaking bool
	// noiseHold counts down the frames after the steadiness check ended a
	// run, during which the floor learns the new noise.
	noiseHold int
	// guardFires counts steadiness endings, for tests.
	guardFires int
	// history of band levels for the steadiness check (ring).
	hist    [steadyFrames][numBands]float64
	histPos int
	histN   int

	last features
}

// features are the per-frame measurements, kept for tests and tuning.
type features struct {
	dbfs     float64
	snr      float64
	flatness float64
	steadyDB float64
	speech   bool
}

var _ Detector = (*EnergyDetector)(nil)

// NewEnergyDetector returns the built-in detector. cfg.Threshold is the
// entry threshold in dB above the noise floor (DefaultThreshold if not
// positive); speech continues down to half of it.
func NewEnergyDetector(cfg config.VAD) *EnergyDetector {
	d := &EnergyDetector{fft: newRealFFT(fftSize)}
	d.SetThreshold(cfg.Threshold)
	for i := range d.window {
		d.window[i] = float32(0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(audio.FrameSamples-1)))
	}
	edges := bandEdgesHz()
	for b := range numBands {
		d.bandLo[b] = int(math.Round(edges[b] / binHz))
		d.bandHi[b] = int(math.Round(edges[b+1] / binHz))
		// Expected band power of white noise at minFloorDBFS: per bin
		// σ² × Σ w², summed over the band's bins.
		var w2 float64
		for _, w := range d.window {
			w2 += float64(w) * float64(w)
		}
		sigma2 := math.Pow(10, minFloorDBFS/10)
		d.minFloor[b] = 10 * math.Log10(sigma2*w2*float64(d.bandHi[b]-d.bandLo[b]))
	}
	d.Reset()
	return d
}

// SetThreshold changes the entry threshold to db dB above the noise floor
// (DefaultThreshold if not positive); speech continues down to half of it.
// The caller validates db against config limits (session.update). It
// applies from the next frame, also to a speech run under way; the noise
// floor is kept.
func (d *EnergyDetector) SetThreshold(db float64) {
	if db <= 0 {
		db = DefaultThreshold
	}
	d.enter, d.exit = db, db*hysteresisRatio
}

// Threshold is the current entry threshold in dB above the noise floor.
func (d *EnergyDetector) Threshold() float64 { return d.enter }

// Reset forgets the noise floor and state.
func (d *EnergyDetector) Reset() {
	d.frames, d.speaking, d.histPos, d.histN, d.noiseHold = 0, false, 0, 0, 0
	for b := range d.floor {
		d.floor[b] = minBandLevelDB
	}
	d.last = features{}
}

// IsSpeech reports whether f holds speech.
func (d *EnergyDetector) IsSpeech(f *audio.Frame) bool {
	var levels [numBands]float64
	dbfs := d.analyse(f, &levels)
	d.frames++

	var snr float64
	var logSum, linSum float64
	var bandSNR [numBands]float64
	for b, l := range levels {
		r := l - d.floor[b]
		bandSNR[b] = math.Min(math.Max(r, 0), maxBandSNR)
		// ln of the power ratio, then the ratio itself.
		ln := math.Min(math.Max(r, 0), maxBandSNR) * dbToNeper
		logSum += ln
		linSum += math.Exp(ln)
	}
	slices.Sort(bandSNR[:])
	for _, v := range bandSNR[numBands-topBands:] {
		snr += v
	}
	snr /= topBands
	flatness := math.Exp(logSum/numBands) / (linSum / numBands)
	steady := d.pushHistory(&levels)

	noiseLike := false
	switch {
	case dbfs < AbsoluteFloorDBFS || d.frames <= warmupFrames:
		d.speaking = false
	case d.speaking:
		d.speaking = snr >= d.exit
		if d.speaking && steady < steadyStdDB {
			// Half a second of steady sound: a noise that started, not
			// speech. Learn it before anything may start speech again.
			d.speaking, noiseLike = false, true
			d.noiseHold = steadyFrames
			d.guardFires++
		}
	case d.noiseHold > 0:
		d.noiseHold--
		noiseLike = snr >= d.enter
	default:
		if snr >= d.enter {
			// Only flatness gates the onset: the steadiness window still
			// holds the half second before it.
			if flatness <= maxExcessFlatness {
				d.speaking = true
			} else {
				noiseLike = true
			}
		}
	}
	d.updateFloor(&levels, noiseLike)
	d.last = features{dbfs: dbfs, snr: snr, flatness: flatness, steadyDB: steady, speech: d.speaking}
	return d.speaking
}

// updateFloor moves the per-band noise floor after a decision.
func (d *EnergyDetector) updateFloor(levels *[numBands]float64, noiseLike bool) {
	for b, l := range levels {
		fl := &d.floor[b]
		switch {
		case d.frames <= warmupFrames:
			// The first frames set the floor: their mean level in dB.
			*fl += (l - *fl) / float64(d.frames)
		case l < *fl-floorDropDB:
			*fl += floorDownRate * (l - *fl)
		case l < *fl:
			*fl -= math.Min(*fl-l, floorUpStep)
		case d.speaking:
			// Never learn speech as noise.
		case noiseLike:
			*fl += math.Max(floorNoiseRate*(l-*fl), math.Min(l-*fl, floorUpStep))
		default:
			*fl += math.Min(l-*fl, floorUpStep)
		}
		*fl = math.Max(*fl, d.minFloor[b])
	}
}

// pushHistory records the band levels and returns how much the loudest-
// moving bands vary over the window: per band, the standard deviation (dB)
// of the means of steadyBlock-frame blocks, averaged over the steadyTop
// bands that vary most. Block means remove most of the frame-to-frame
// jitter of noise but keep the syllable-rate modulation of speech, and
// taking the most-varying bands keeps speech that rises above the noise in
// only a few bands from being averaged away.
func (d *EnergyDetector) pushHistory(levels *[numBands]float64) float64 {
	d.hist[d.histPos] = *levels
	d.histPos = (d.histPos + 1) % steadyFrames
	if d.histN < steadyFrames {
		d.histN++
		return math.Inf(1)
	}
	var top [steadyTop]float64
	for b := range numBands {
		var sum, sq float64
		for k := range steadyFrames / steadyBlock {
			var m float64
			for j := range steadyBlock {
				m += d.hist[(d.histPos+k*steadyBlock+j)%steadyFrames][b]
			}
			m /= steadyBlock
			sum += m
			sq += m * m
		}
		const blocks = steadyFrames / steadyBlock
		mean := sum / blocks
		std := math.Sqrt(math.Max(sq/blocks-mean*mean, 0))
		// Insert into the sorted top list.
		for i := range top {
			if std > top[i] {
				copy(top[i+1:], top[i:steadyTop-1])
				top[i] = std
				break
			}
		}
	}
	var total float64
	for _, v := range top {
		total += v
	}
	return total / steadyTop
}

// analyse fills the band levels (dB) of f and returns its level in dBFS.
func (d *EnergyDetector) analyse(f *audio.Frame, levels *[numBands]float64) float64 {
	var sq float64
	for i, s := range f {
		x := float32(s) / fullScale
		sq += float64(x) * float64(x)
		d.windowed[i] = x * d.window[i]
	}
	d.fft.power(d.windowed[:], d.power[:])
	for b := range numBands {
		var p float64
		for _, v := range d.power[d.bandLo[b]:d.bandHi[b]] {
			p += v
		}
		levels[b] = math.Max(10*math.Log10(p+1e-30), minBandLevelDB)
	}
	return audio.AmplitudeDBFS(math.Sqrt(sq/audio.FrameSamples) * fullScale)
}
