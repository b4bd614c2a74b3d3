package silero

import (
	"bytes"
	"errors"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/vad/silero/silerotest"
)

func newEngine(t testing.TB, mutate func(*config.VAD)) *Engine {
	t.Helper()
	cfg := silerotest.Config(t)
	if mutate != nil {
		mutate(&cfg)
	}
	e, err := New(cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, e.Close()) })
	return e
}

// spoken returns flite's "slt" voice saying text, with a second of silence
// before and after, as 20 ms frames.
func spoken(t testing.TB, text string) []audio.Frame {
	t.Helper()
	if _, err := exec.LookPath("flite"); err != nil {
		if os.Getenv(silerotest.EnvRequire) == "1" {
			t.Fatal("flite missing (Debian package flite; make test installs it)")
		}
		t.Skip("flite missing (Debian package flite)")
	}
	out := filepath.Join(t.TempDir(), "speech.wav")
	require.NoError(t, exec.Command("flite", "-voice", "slt", "-t", text, "-o", out).Run())
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	p, err := audio.ReadWAV(bytes.NewReader(b))
	require.NoError(t, err)
	require.Equal(t, audio.SampleRate, p.SampleRate)
	silence := make([]int16, audio.SampleRate)
	s := append(append(append([]int16{}, silence...), p.Samples...), silence...)
	return toFrames(s)
}

func toFrames(s []int16) []audio.Frame {
	frames := make([]audio.Frame, len(s)/audio.FrameSamples)
	for i := range frames {
		copy(frames[i][:], s[i*audio.FrameSamples:])
	}
	return frames
}

func probabilities(s *Stream, frames []audio.Frame) []float64 {
	out := make([]float64, len(frames))
	for i := range frames {
		out[i] = s.SpeechProbability(&frames[i])
	}
	return out
}

func TestSpeechAndSilence(t *testing.T) {
	e := newEngine(t, nil)
	frames := spoken(t, "What is the weather in Paris today?")
	p := probabilities(e.NewStream(), frames)
	second := int(time.Second / audio.FrameDuration)
	var lead, speech float64
	for _, v := range p[:second] {
		lead = math.Max(lead, v)
	}
	for _, v := range p[second : len(p)-second] {
		speech = math.Max(speech, v)
	}
	assert.Less(t, lead, 0.1, "leading silence")
	assert.Greater(t, speech, 0.9, "speech")
	assert.Less(t, p[len(p)-1], 0.1, "a second after the speech")
}

// Windows of several streams inferred in one batch get exactly the
// probabilities each stream gets alone: the state layout of the batch is
// right and streams do not leak into each other.
func TestBatchedEqualsAlone(t *testing.T) {
	e := newEngine(t, func(c *config.VAD) { c.BatchWait = 20 * time.Millisecond })
	speech := spoken(t, "Please book a table for two at seven thirty.")
	const streams = 6
	inputs := make([][]audio.Frame, streams)
	for i := range inputs {
		// Each stream hears the speech at its own gain plus its own noise.
		rng := rand.New(rand.NewPCG(uint64(i), 7))
		gain := 0.3 + 0.15*float64(i)
		inputs[i] = make([]audio.Frame, len(speech))
		for f := range speech {
			for k, x := range speech[f] {
				inputs[i][f][k] = int16(math.Max(-32768, math.Min(32767, gain*float64(x)+200*rng.NormFloat64())))
			}
		}
	}
	alone := make([][]float64, streams)
	for i := range inputs {
		alone[i] = probabilities(e.NewStream(), inputs[i])
	}
	runs := e.runs.Load()
	together := make([][]float64, streams)
	var wg sync.WaitGroup
	for i := range inputs {
		s := e.NewStream()
		wg.Go(func() { together[i] = probabilities(s, inputs[i]) })
	}
	wg.Wait()
	windows := int64(streams * len(speech) * audio.FrameSamples / WindowSamples)
	assert.Less(t, e.runs.Load()-runs, windows/2, "windows were batched")
	for i := range inputs {
		require.Len(t, together[i], len(alone[i]))
		for f := range alone[i] {
			require.InDelta(t, alone[i][f], together[i][f], 1e-4, "stream %d frame %d", i, f)
		}
	}
}

func TestResetForgetsTheStream(t *testing.T) {
	e := newEngine(t, nil)
	frames := spoken(t, "Thanks, that is all for now.")
	s := e.NewStream()
	first := probabilities(s, frames[:75])
	s.Reset()
	assert.Equal(t, first, probabilities(s, frames[:75]))
}

func TestClosedEngineReadsSilence(t *testing.T) {
	cfg := silerotest.Config(t)
	e, err := New(cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	s := e.NewStream()
	require.NoError(t, e.Close())
	require.NoError(t, e.Close())
	var f audio.Frame
	for range 4 {
		assert.Zero(t, s.SpeechProbability(&f))
	}
}

func TestBadFilesNameKeyAndPath(t *testing.T) {
	good := silerotest.Config(t)
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.bin")
	require.NoError(t, os.WriteFile(garbage, bytes.Repeat([]byte("not an onnx model "), 1000), 0o600))
	truncated := filepath.Join(dir, "truncated.onnx")
	b, err := os.ReadFile(good.ModelPath)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(truncated, b[:len(b)/3], 0o600))
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name     string
		mutate   func(*config.VAD)
		key      string
		path     string
		sentinel error
	}{
		{"missing model", func(c *config.VAD) { c.ModelPath = missing }, "vad.model_path", missing, ErrModel},
		{"garbage model", func(c *config.VAD) { c.ModelPath = garbage }, "vad.model_path", garbage, ErrModel},
		{"truncated model", func(c *config.VAD) { c.ModelPath = truncated }, "vad.model_path", truncated, ErrModel},
		{"missing runtime", func(c *config.VAD) { c.ONNXRuntimePath = missing }, "vad.onnxruntime_path", missing, ErrRuntime},
		{"runtime not a library", func(c *config.VAD) { c.ONNXRuntimePath = garbage }, "vad.onnxruntime_path", garbage, ErrRuntime},
		{"runtime is the model", func(c *config.VAD) { c.ONNXRuntimePath = good.ModelPath }, "vad.onnxruntime_path", good.ModelPath, ErrRuntime},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.mutate(&cfg)
			e, err := New(cfg, slog.New(slog.DiscardHandler))
			if e != nil {
				_ = e.Close()
			}
			require.Error(t, err)
			assert.True(t, errors.Is(err, tt.sentinel), "%v", err)
			assert.Contains(t, err.Error(), tt.key)
			assert.Contains(t, err.Error(), tt.path)
		})
	}
}

// Digital silence (the frames a WebRTC transport fills in during DTX) is
// not inferred: probability 0, and the speech after it gets exactly the
// probabilities of a fresh stream. A quiet but non-zero input is inferred.
func TestDigitalSilenceIsNotInferred(t *testing.T) {
	e := newEngine(t, nil)
	speech := spoken(t, "Thanks, that is all for now.")
	s := e.NewStream()
	windows, skipped := e.windows.Load(), e.skipped.Load()
	zeros := make([]audio.Frame, 48) // 0.96 s: 30 whole windows
	for _, p := range probabilities(s, zeros) {
		require.Zero(t, p)
	}
	assert.Equal(t, windows, e.windows.Load(), "no window of zeros inferred")
	assert.Equal(t, int64(len(zeros)*audio.FrameSamples/WindowSamples), e.skipped.Load()-skipped)

	// After whole windows of silence the stream is where a new one starts.
	assert.Equal(t, probabilities(e.NewStream(), speech), probabilities(s, speech))

	hiss := make([]audio.Frame, 10)
	for f := range hiss {
		for k := range hiss[f] {
			hiss[f][k] = int16(k%3 - 1) // ±1 LSB: quiet, not digital silence
		}
	}
	before := e.windows.Load()
	probabilities(e.NewStream(), hiss)
	assert.Positive(t, e.windows.Load()-before, "a quiet non-zero input is inferred")
}
