package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/sdk/pcm"
)

const benchText = "Parley is a real-time voice server. It listens, thinks and speaks back. " +
	"This paragraph has a few sentences so the benchmark measures steady synthesis, not start-up."

// cpuTime is the process's user plus system CPU time.
func cpuTime(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSynthesize reports CPU seconds per second of speech
// (cpu-s/speech-s) and the time to the first audio chunk (first-audio-ms).
func BenchmarkSynthesize(b *testing.B) {
	cases := []struct {
		voice string
		rate  int
	}{{"slt", 16000}, {"kal16", 16000}, {"awb", 16000}, {"rms", 16000}, {"kal", 16000}, {"slt", 48000}}
	for _, tc := range cases {
		b.Run(tc.voice+"@"+strconv.Itoa(tc.rate), func(b *testing.B) {
			e := NewEngine(slog.New(slog.DiscardHandler))
			var samples int
			var firstTotal time.Duration
			cpu0 := cpuTime(b)
			for b.Loop() {
				start := time.Now()
				st, err := e.Synthesize(context.Background(), sdk.TTSConfig{Voice: tc.voice, SampleRate: tc.rate})
				if err != nil {
					b.Fatal(err)
				}
				if err := st.SendText(benchText); err != nil {
					b.Fatal(err)
				}
				if err := st.CloseSend(); err != nil {
					b.Fatal(err)
				}
				first := true
				for {
					c, err := st.Recv()
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					if first {
						firstTotal += time.Since(start)
						first = false
					}
					samples += len(c.PCM) / pcm.BytesPerSample
				}
			}
			cpu := cpuTime(b) - cpu0
			speech := float64(samples) / float64(tc.rate)
			b.ReportMetric(cpu.Seconds()/speech, "cpu-s/speech-s")
			b.ReportMetric(float64(firstTotal.Milliseconds())/float64(b.N), "first-audio-ms")
		})
	}
}
