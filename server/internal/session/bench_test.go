package session_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/session"
	"github.com/parleyhq/parley/server/internal/session/sessiontest"
)

// BenchmarkInboundFrame measures the CPU of one 20 ms input frame through
// the session: PCM decode, resampling to 16 kHz, VAD and, during speech,
// the hand-off to STT (a fake that only counts bytes). The input alternates
// 1 s of speech and 1 s of quiet noise.
func BenchmarkInboundFrame(b *testing.B) {
	for _, rate := range []int{16000, 48000} {
		b.Run(rateName(rate), func(b *testing.B) {
			m, err := session.NewManager(config.Session{OutputSampleRate: 16000, InterruptAfter: time.Second}, testVAD(), config.Tools{},
				session.Plugins{STT: &sessiontest.STT{}, LLM: &sessiontest.LLM{}, TTS: &sessiontest.TTS{}}, nil, nil, slog.New(slog.DiscardHandler))
			require.NoError(b, err)
			res, err := m.Reserve("127.0.0.1")
			require.NoError(b, err)
			s, err := m.Start(context.Background(), res, session.StartParams{Sink: nopConn{}, InputSampleRate: rate})
			require.NoError(b, err)
			var samples []int16
			samples = append(samples, sessiontest.Silence(time.Second, rate)...)
			samples = append(samples, sessiontest.Speech(time.Second, rate)...)
			frames := sessiontest.Frames(sessiontest.PCM(samples), rate)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := s.HandleAudio(ctx, frames[i%len(frames)]); err != nil {
					b.Fatal(err)
				}
			}
			s.History(ctx) // waits until every frame was processed
			b.StopTimer()
			dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			require.NoError(b, m.Drain(dctx))
		})
	}
}

func rateName(rate int) string {
	switch rate {
	case 16000:
		return "16kHz"
	case 48000:
		return "48kHz"
	}
	return "other"
}
