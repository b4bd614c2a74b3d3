package vad

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/vad/silero"
	"github.com/parleyhq/parley/server/internal/vad/silero/silerotest"
)

// evalConfig is the VAD configuration the evaluation runs with: the
// server's defaults.
func evalConfig() config.VAD { return config.Default().VAD }

// evalSentences are spoken by every voice, separated by silent gaps.
func evalSentences() []string {
	return []string{
		"What is the weather in Paris today?",
		"Please book a table for two at seven thirty.",
		"I would like to hear some quiet music while I work.",
		"Can you remind me to call my sister tomorrow morning?",
		"Thanks, that is all for now.",
	}
}

// evalVoice is a synthetic voice (flite, or espeak-ng at 22.05 kHz, which
// also exercises ReadWAV and the resampler) and the active speech level it
// is scaled to, so the detector sees loud and quiet talkers.
type evalVoice struct {
	engine  string
	name    string
	levelDB float64
}

func evalVoices() []evalVoice {
	return []evalVoice{
		{"flite", "slt", -18}, {"flite", "awb", -24}, {"flite", "rms", -30}, {"flite", "kal16", -21},
		{"espeak-ng", "en-us", -26},
	}
}

// truthMarginDB: a frame of the clean speech is speech when its level is
// within this many dB of the loudest frame of that voice's track.
const truthMarginDB = 40.0

// track is one voice's clean test signal with its per-frame ground truth.
type track struct {
	voice   string
	samples []int16
	truth   []bool
	// speechPower is the mean power of the ground-truth speech frames.
	speechPower float64
}

// synthesize speaks one sentence and returns 16 kHz samples.
func synthesize(ctx context.Context, dir string, v evalVoice, text string, n int) ([]int16, error) {
	out := filepath.Join(dir, fmt.Sprintf("%s-%s-%d.wav", v.engine, v.name, n))
	args := []string{"-voice", v.name, "-t", text, "-o", out}
	if v.engine == "espeak-ng" {
		args = []string{"-v", v.name, "-w", out, text}
	}
	cmd := exec.CommandContext(ctx, v.engine, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s %s: %w: %s", v.engine, v.name, err, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("read %s output: %w", v.engine, err)
	}
	p, err := audio.ReadWAV(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s output: %w", v.engine, err)
	}
	if p.SampleRate == audio.SampleRate {
		return p.Samples, nil
	}
	r, err := audio.NewResampler(p.SampleRate, audio.SampleRate)
	if err != nil {
		return nil, fmt.Errorf("%s output: %w", v.engine, err)
	}
	return r.Flush(r.Process(nil, p.Samples)), nil
}

// synthWorkers bounds the speech synthesis processes run at once.
const synthWorkers = 4

// synthesizeAll runs the synthesizer for every voice and sentence, a few processes at
// a time, and returns the samples indexed [voice][sentence].
func synthesizeAll(t *testing.T, dir string, voices []evalVoice, sentences []string) [][][]int16 {
	t.Helper()
	out := make([][][]int16, len(voices))
	errs := make([]error, len(voices)*len(sentences))
	sem := make(chan struct{}, synthWorkers)
	var wg sync.WaitGroup
	for vi, v := range voices {
		out[vi] = make([][]int16, len(sentences))
		for si, text := range sentences {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				out[vi][si], errs[vi*len(sentences)+si] = synthesize(t.Context(), dir, v, text, si)
			}()
		}
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	return out
}

// buildTrack concatenates the sentences with gaps, scales the speech to the
// voice's level and labels every frame.
func buildTrack(t *testing.T, v evalVoice, sentences [][]int16) track {
	t.Helper()
	gaps := []time.Duration{1200 * time.Millisecond, 700 * time.Millisecond, 1500 * time.Millisecond, 900 * time.Millisecond, 1100 * time.Millisecond}
	var s []int16
	for i, speech := range sentences {
		s = append(s, make([]int16, samplesOf(gaps[i%len(gaps)]))...)
		s = append(s, speech...)
	}
	s = append(s, make([]int16, samplesOf(time.Second))...)
	s = s[:len(s)/audio.FrameSamples*audio.FrameSamples]

	levels := make([]float64, len(s)/audio.FrameSamples)
	peak := audio.MinDBFS
	for i := range levels {
		levels[i] = audio.DBFS(s[i*audio.FrameSamples : (i+1)*audio.FrameSamples])
		peak = math.Max(peak, levels[i])
	}
	tr := track{voice: v.engine + " " + v.name, truth: make([]bool, len(levels))}
	var power float64
	var n int
	for i, l := range levels {
		if l >= peak-truthMarginDB && l > audio.MinDBFS {
			tr.truth[i] = true
			power += meanSquare(s[i*audio.FrameSamples : (i+1)*audio.FrameSamples])
			n++
		}
	}
	require.Positive(t, n)
	// Scale so the active speech sits at the voice's level.
	gain := math.Pow(10, v.levelDB/20) * 32768 / math.Sqrt(power/float64(n))
	tr.samples = make([]int16, len(s))
	for i, x := range s {
		tr.samples[i] = clip16(float64(x) * gain)
	}
	tr.speechPower = power / float64(n) * gain * gain
	return tr
}

// noiseKind is a steady background noise.
type noiseKind string

const (
	noiseNone  noiseKind = "clean"
	noiseWhite noiseKind = "white"
	noiseBrown noiseKind = "brown"
	noiseHum50 noiseKind = "hum50"
	noiseHum60 noiseKind = "hum60"
	// noisePink is 1/f noise (Voss-McCartney, 16 rows).
	noisePink noiseKind = "pink"
	// noiseBabble is several other talkers at once (see makeBabble).
	noiseBabble noiseKind = "babble"
)

// brownLeak keeps brown noise (integrated white noise) from drifting.
const brownLeak = 0.998

// makeNoise returns n samples of unit-RMS noise.
func makeNoise(kind noiseKind, n int, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	x := make([]float64, n)
	switch kind {
	case noiseWhite:
		for i := range x {
			x[i] = rng.NormFloat64()
		}
	case noiseBrown:
		var y float64
		for i := range x {
			y = brownLeak*y + rng.NormFloat64()
			x[i] = y
		}
	case noiseHum50, noiseHum60:
		f0 := 50.0
		if kind == noiseHum60 {
			f0 = 60
		}
		// Mains hum: the fundamental and decaying odd harmonics.
		for i := range x {
			tt := float64(i) / audio.SampleRate
			for h, a := range []float64{1, 0.5, 0.25, 0.12} {
				x[i] += a * math.Sin(2*math.Pi*f0*float64(2*h+1)*tt+float64(h))
			}
		}
	case noisePink:
		const rows = 16
		var r [rows]float64
		var sum float64
		for i := range x {
			// Row k changes every 2^k samples: the one at the lowest set
			// bit of i.
			k := 0
			for k < rows-1 && (i>>k)&1 == 0 {
				k++
			}
			sum -= r[k]
			r[k] = rng.NormFloat64()
			sum += r[k]
			x[i] = sum + rng.NormFloat64()
		}
	case noiseNone, noiseBabble:
	}
	return unitRMS(x)
}

// unitRMS scales x to RMS 1 (unless it is silent).
func unitRMS(x []float64) []float64 {
	n := len(x)
	var p float64
	for _, v := range x {
		p += v * v
	}
	if p > 0 {
		g := 1 / math.Sqrt(p/float64(n))
		for i := range x {
			x[i] *= g
		}
	}
	return x
}

// babbleTalkers is how many other talkers make one babble.
const babbleTalkers = 6

// makeBabble returns n samples of unit-RMS multi-talker babble: talkers
// voices other than the target's (the other tracks' voices, each used
// more than once with a different sentence order and start), each speaking
// its sentences back to back with no gaps, looped, all at the same level.
func makeBabble(speech [][][]int16, target, n int, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	x := make([]float64, n)
	others := make([]int, 0, len(speech)-1)
	for v := range speech {
		if v != target {
			others = append(others, v)
		}
	}
	for k := range babbleTalkers {
		v := others[k%len(others)]
		var talk []float64
		order := rng.Perm(len(speech[v]))
		for _, si := range order {
			for _, s := range speech[v][si] {
				talk = append(talk, float64(s))
			}
		}
		talk = unitRMS(talk)
		off := rng.IntN(len(talk))
		for i := range x {
			x[i] += talk[(off+i)%len(talk)]
		}
	}
	return unitRMS(x)
}

// condition is one evaluation condition.
type condition struct {
	noise noiseKind
	snrDB float64
}

func (c condition) String() string {
	if c.noise == noiseNone {
		return "clean"
	}
	return fmt.Sprintf("%s %g dB", c.noise, c.snrDB)
}

// mix adds unit-RMS noise scaled to the SNR (relative to the active speech
// power).
func mix(tr track, snrDB float64, noise []float64) []int16 {
	if noise == nil {
		return tr.samples
	}
	g := math.Sqrt(tr.speechPower / math.Pow(10, snrDB/10))
	out := make([]int16, len(tr.samples))
	for i, s := range tr.samples {
		out[i] = clip16(float64(s) + g*noise[i])
	}
	return out
}

// counts is a confusion matrix of frame labels.
type counts struct{ tp, fp, fn, tn int }

func (c *counts) add(got, want bool) {
	switch {
	case got && want:
		c.tp++
	case got:
		c.fp++
	case want:
		c.fn++
	default:
		c.tn++
	}
}

func (c counts) precision() float64 { return ratio(c.tp, c.tp+c.fp) }
func (c counts) recall() float64    { return ratio(c.tp, c.tp+c.fn) }
func (c counts) f1() float64 {
	p, r := c.precision(), c.recall()
	if p+r == 0 {
		return 0
	}
	return 2 * p * r / (p + r)
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}

// oracle is a Detector that knows the ground truth.
type oracle struct {
	truth []bool
	i     int
}

func (o *oracle) IsSpeech(*audio.Frame) bool {
	v := o.i < len(o.truth) && o.truth[o.i]
	o.i++
	return v
}

func (o *oracle) Reset() { o.i = 0 }

// scores are the metrics of one condition.
type scores struct {
	// segmenter compares the Segmenter's Speaking flag with the Speaking
	// flag of the same Segmenter driven by the ground truth (same
	// MinSpeech/MinSilence latency, so only detection errors count).
	segmenter counts
	// detector compares the raw per-frame decisions with the truth.
	detector counts
	// turns counts SpeechStarted events against the oracle's.
	turns, oracleTurns int
	// guards counts runs the steadiness check ended.
	guards int
	// startErr and stopErr sum the absolute timestamp errors of matched
	// SpeechStarted/SpeechStopped events against the oracle's; matched
	// counts the pairs.
	startErr, stopErr time.Duration
	startN, stopN     int
}

// maxEventSkew is how far apart a detected and an oracle event may be to
// count as the same event.
const maxEventSkew = 500 * time.Millisecond

// matchEvents adds the absolute error of each oracle event's nearest
// detected event within maxEventSkew.
func matchEvents(got, want []time.Duration, sum *time.Duration, n *int) {
	for _, w := range want {
		best := maxEventSkew + 1
		for _, g := range got {
			best = min(best, (g - w).Abs())
		}
		if best <= maxEventSkew {
			*sum += best
			*n++
		}
	}
}

// evaluate runs detector and segmenter over one mixed track.
func evaluate(tr track, samples []int16, sc *scores, det Detector) {
	cfg := evalConfig()
	probe := &probeDetector{d: det}
	seg := NewSegmenter(probe, cfg)
	ref := NewSegmenter(&oracle{truth: tr.truth}, cfg)
	var starts, stops, refStarts, refStops []time.Duration
	defer func() {
		if e, ok := det.(*EnergyDetector); ok {
			sc.guards += e.guardFires
		}
		matchEvents(starts, refStarts, &sc.startErr, &sc.startN)
		matchEvents(stops, refStops, &sc.stopErr, &sc.stopN)
	}()
	for i := range tr.truth {
		f := (*audio.Frame)(samples[i*audio.FrameSamples : (i+1)*audio.FrameSamples])
		r := seg.Process(f)
		want := ref.Process(f)
		sc.segmenter.add(r.Speaking, want.Speaking)
		sc.detector.add(probe.last, tr.truth[i])
		switch r.Event {
		case SpeechStarted:
			sc.turns++
			starts = append(starts, r.At)
		case SpeechStopped:
			stops = append(stops, r.At)
		case None:
		}
		switch want.Event {
		case SpeechStarted:
			sc.oracleTurns++
			refStarts = append(refStarts, want.At)
		case SpeechStopped:
			refStops = append(refStops, want.At)
		case None:
		}
	}
}

// probeDetector records the wrapped detector's last decision.
type probeDetector struct {
	d    Detector
	last bool
}

func (p *probeDetector) IsSpeech(f *audio.Frame) bool { p.last = p.d.IsSpeech(f); return p.last }
func (p *probeDetector) Reset()                       { p.d.Reset() }

// The asserted minimum precision and recall of the energy Segmenter's
// Speaking flag in every steady-noise condition.
const (
	evalMinPrecision = 0.9
	evalMinRecall    = 0.85
	// evalMinSileroF1 is the asserted minimum segmenter F1 of Silero in
	// every condition but babble at 10 dB SNR, where the other talkers are
	// loud enough to be speech themselves (evalMinSileroBabble10F1).
	evalMinSileroF1         = 0.93
	evalMinSileroBabble10F1 = 0.83
)

// evalEngine is a detector under evaluation.
type evalEngine struct {
	name string
	new  func() Detector
}

// evalEngines are the energy detector and, on the model files make
// fetches, Silero (required when silerotest.EnvRequire is set).
func evalEngines(t *testing.T) []evalEngine {
	cfg := silerotest.Config(t)
	e, err := silero.New(cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, e.Close()) })
	return []evalEngine{
		{"energy", func() Detector { return NewEnergyDetector(evalConfig()) }},
		{"silero", func() Detector { return NewProbabilityDetector(e.NewStream(), cfg) }},
	}
}

func TestEvaluateGenerated(t *testing.T) {
	for _, bin := range []string{"flite", "espeak-ng"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed (Debian package %s; make test installs it): generated-speech evaluation skipped", bin, bin)
		}
	}
	engines := evalEngines(t)
	voices := evalVoices()
	speech := synthesizeAll(t, t.TempDir(), voices, evalSentences())
	var tracks []track
	for i, v := range voices {
		tracks = append(tracks, buildTrack(t, v, speech[i]))
	}
	conditions := []condition{
		{noise: noiseNone},
		{noiseWhite, 20}, {noiseWhite, 10}, {noiseWhite, 5},
		{noisePink, 20}, {noisePink, 10},
		{noiseBrown, 20}, {noiseBrown, 10}, {noiseBrown, 5},
		{noiseHum50, 20}, {noiseHum50, 10}, {noiseHum50, 5},
		{noiseHum60, 10},
		{noiseBabble, 20}, {noiseBabble, 10},
	}
	// One noise per kind and track, scaled for each SNR.
	noises := make(map[noiseKind][][]float64)
	for _, c := range conditions {
		if c.noise == noiseNone || noises[c.noise] != nil {
			continue
		}
		for ti, tr := range tracks {
			seed := uint64(len(noises)*16 + ti + 1)
			if c.noise == noiseBabble {
				noises[c.noise] = append(noises[c.noise], makeBabble(speech, ti, len(tr.samples), seed))
				continue
			}
			noises[c.noise] = append(noises[c.noise], makeNoise(c.noise, len(tr.samples), seed))
		}
	}
	results := make([][]scores, len(engines))
	t.Run("conditions", func(t *testing.T) {
		for ei, eng := range engines {
			results[ei] = make([]scores, len(conditions))
			for ci, c := range conditions {
				t.Run(eng.name+" "+c.String(), func(t *testing.T) {
					t.Parallel()
					sc := &results[ei][ci]
					for ti, tr := range tracks {
						var noise []float64
						if n := noises[c.noise]; n != nil {
							noise = n[ti]
						}
						evaluate(tr, mix(tr, c.snrDB, noise), sc, eng.new())
					}
					switch {
					case eng.name == "silero" && c.noise == noiseBabble && c.snrDB < 20:
						assert.GreaterOrEqual(t, sc.segmenter.f1(), evalMinSileroBabble10F1, "%s F1", c)
					case eng.name == "silero":
						assert.GreaterOrEqual(t, sc.segmenter.f1(), evalMinSileroF1, "%s F1", c)
					case c.noise != noiseBabble:
						assert.GreaterOrEqual(t, sc.segmenter.precision(), evalMinPrecision, "%s precision", c)
						assert.GreaterOrEqual(t, sc.segmenter.recall(), evalMinRecall, "%s recall", c)
					}
				})
			}
		}
	})
	var table strings.Builder
	fmt.Fprintf(&table, "\n%-7s | %-14s | %-29s | %-28s | %s\n", "engine", "condition", "segmenter Speaking P / R / F1", "detector frames P / R / F1", "turns (oracle) | start/stop |err| ms | guard")
	for ei, eng := range engines {
		for ci, c := range conditions {
			sc := results[ei][ci]
			s, d := sc.segmenter, sc.detector
			fmt.Fprintf(&table, "%-7s | %-14s | %.3f / %.3f / %.3f        | %.3f / %.3f / %.3f        | %d (%d) | %3.0f / %3.0f | %d\n",
				eng.name, c, s.precision(), s.recall(), s.f1(), d.precision(), d.recall(), d.f1(), sc.turns, sc.oracleTurns, meanMS(sc.startErr, sc.startN), meanMS(sc.stopErr, sc.stopN), sc.guards)
		}
	}
	t.Log(table.String())
}

// meanMS is sum/n in milliseconds (NaN without pairs).
func meanMS(sum time.Duration, n int) float64 {
	if n == 0 {
		return math.NaN()
	}
	return float64(sum.Milliseconds()) / float64(n)
}

func samplesOf(d time.Duration) int { return int(d * audio.SampleRate / time.Second) }

func meanSquare(s []int16) float64 {
	var p float64
	for _, v := range s {
		p += float64(v) * float64(v)
	}
	return p / float64(len(s))
}

func clip16(v float64) int16 {
	return int16(math.Max(math.MinInt16, math.Min(math.MaxInt16, math.Round(v))))
}
