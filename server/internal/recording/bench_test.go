package recording_test

import (
	"context"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/protocol/parleyv1"
	"github.com/parleyhq/parley/server/internal/recording"
	"github.com/parleyhq/parley/server/internal/session"
	"github.com/parleyhq/parley/server/internal/session/sessiontest"
)

// benchQueue is large enough that the benchmarks drop nothing (they
// report drops/op to show it).
const benchQueue = 1 << 16

// cpuTime is the process's user+system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkInboundFrameRecording is the session's per-frame input path
// (decode, VAD, STT hand-off; as session's BenchmarkInboundFrame) with
// recording off and on. With it on, the time includes the writer
// goroutine finishing every frame to disk (Drain, then Store.Wait);
// cpu-ns/op is the whole process's CPU per frame, both goroutines.
func BenchmarkInboundFrameRecording(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			reg := prometheus.NewRegistry()
			st, err := recording.New(config.Recording{Dir: b.TempDir(), QueueFrames: benchQueue}, parleyv1.Encode, reg, nil)
			require.NoError(b, err)
			var opts []session.Option
			if on {
				opts = append(opts, session.WithRecorder(st, true))
			}
			m, err := session.NewManager(config.Session{OutputSampleRate: audio.SampleRate, InterruptAfter: time.Second}, testVAD(), config.Tools{},
				session.Plugins{STT: &sessiontest.STT{}, LLM: &sessiontest.LLM{}, TTS: &sessiontest.TTS{}}, nil, reg, slog.New(slog.DiscardHandler), opts...)
			require.NoError(b, err)
			res, err := m.Reserve("127.0.0.1")
			require.NoError(b, err)
			s, err := m.Start(context.Background(), res, session.StartParams{Sink: nopSink{}})
			require.NoError(b, err)
			var samples []int16
			samples = append(samples, sessiontest.Silence(time.Second, audio.SampleRate)...)
			samples = append(samples, sessiontest.Speech(time.Second, audio.SampleRate)...)
			frames := sessiontest.Frames(sessiontest.PCM(samples), audio.SampleRate)
			ctx := context.Background()
			b.ReportAllocs()
			cpu0 := cpuTime(b)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := s.HandleAudio(ctx, frames[i%len(frames)]); err != nil {
					b.Fatal(err)
				}
			}
			s.History(ctx) // every frame was processed
			dctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			require.NoError(b, m.Drain(dctx))
			require.NoError(b, st.Wait(dctx)) // and written
			b.StopTimer()
			b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(dropped(b, reg)/float64(b.N), "drops/op")
		})
	}
}

func dropped(b *testing.B, reg *prometheus.Registry) float64 {
	b.Helper()
	families, err := reg.Gather()
	require.NoError(b, err)
	for _, f := range families {
		if f.GetName() == "parley_recording_dropped_total" {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}

type nopSink struct{}

func (nopSink) Event(session.Event) error       { return nil }
func (nopSink) Audio([]byte) error              { return nil }
func (nopSink) Close(session.EndReason, string) {}
