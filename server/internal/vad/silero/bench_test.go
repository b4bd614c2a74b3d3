package silero

import (
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/config"
)

// benchAudio is a second of speech-like noise: a 200 Hz buzz under white
// noise. Inference costs the same whatever the audio.
func benchAudio() []audio.Frame {
	rng := rand.New(rand.NewPCG(1, 2))
	s := make([]int16, audio.SampleRate)
	for i := range s {
		s[i] = int16(3000*math.Sin(2*math.Pi*200*float64(i)/audio.SampleRate) + 500*rng.NormFloat64())
	}
	return toFrames(s)
}

// BenchmarkStreamFrame is one 20 ms frame through one stream, alone on the
// engine (no batching): 5 in 8 frames complete a 32 ms window and run an
// inference.
func BenchmarkStreamFrame(b *testing.B) {
	e := newEngine(b, nil)
	s := e.NewStream()
	frames := benchAudio()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.SpeechProbability(&frames[i%len(frames)])
	}
}

// cpuTime is the process's user + system CPU time.
func cpuTime() time.Duration {
	var r syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r)
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}

// envStreams and envSeconds size the paced measurement.
const (
	envStreams = "PARLEY_SILERO_STREAMS"
	envSeconds = "PARLEY_SILERO_SECONDS"
)

// TestPacedStreams is the listening-session measurement: N streams (100,
// PARLEY_SILERO_STREAMS) each fed a 20 ms frame every 20 ms from its own
// goroutine at its own phase, as sessions are, for PARLEY_SILERO_SECONDS
// (default 2 s here; BENCHMARKS.md uses longer runs). It logs the process
// CPU per stream as a share of one core, the mean batch size and the
// slowest frame. Run it with -v; it asserts only that every window was
// inferred (CPU figures belong to BENCHMARKS.md, not to assertions).
func TestPacedStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("paced: runs in real time")
	}
	streams, seconds := envInt(envStreams, 100), envInt(envSeconds, 2)
	e := newEngine(t, func(c *config.VAD) {
		if v := os.Getenv("PARLEY_SILERO_BATCH_WAIT"); v != "" {
			c.BatchWait, _ = time.ParseDuration(v)
		}
	})
	// PARLEY_SILERO_FEED_ONLY=1 runs the same goroutines and sleeps with
	// no VAD: the harness's own cost, to subtract.
	feedOnly := os.Getenv("PARLEY_SILERO_FEED_ONLY") == "1"
	frames := benchAudio()
	perStream := seconds * int(time.Second/audio.FrameDuration)
	var wg sync.WaitGroup
	slowest := make([]time.Duration, streams)
	start := time.Now()
	cpu0, windows0, runs0, skipped0 := cpuTime(), e.windows.Load(), e.runs.Load(), e.skipped.Load()
	for i := range streams {
		s := e.NewStream()
		phase := time.Duration(i) * audio.FrameDuration / time.Duration(streams)
		wg.Go(func() {
			next := start.Add(phase)
			for f := range perStream {
				time.Sleep(time.Until(next))
				t0 := time.Now()
				if !feedOnly {
					s.SpeechProbability(&frames[f%len(frames)])
				}
				slowest[i] = max(slowest[i], time.Since(t0))
				next = next.Add(audio.FrameDuration)
			}
		})
	}
	wg.Wait()
	cpu := cpuTime() - cpu0
	windows, runs := e.windows.Load()-windows0, e.runs.Load()-runs0
	windows += e.skipped.Load() - skipped0
	wantWindows := int64(streams * (perStream * audio.FrameSamples / WindowSamples))
	if feedOnly {
		wantWindows = 0
	}
	if windows != wantWindows {
		t.Fatalf("inferred %d windows, want %d", windows, wantWindows)
	}
	audioSec := float64(seconds)
	var worst time.Duration
	for _, d := range slowest {
		worst = max(worst, d)
	}
	t.Logf("%d streams × %d s (feed only %t): process CPU %.3f s = %.3f%% of a core per stream; %d inferences, mean batch %.1f; slowest frame %s; %s",
		streams, seconds, feedOnly, cpu.Seconds(), 100*cpu.Seconds()/audioSec/float64(streams), runs, float64(windows)/float64(max(runs, 1)), worst, rssLine())
}

// rssLine is the VmRSS line of /proc/self/status.
func rssLine() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "VmRSS unknown"
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			return strings.Join(strings.Fields(line), " ")
		}
	}
	return "VmRSS unknown"
}

func envInt(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil && v > 0 {
		return v
	}
	return def
}
