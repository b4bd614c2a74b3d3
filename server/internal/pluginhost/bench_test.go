package pluginhost

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/config"
)

// frameInterval is one 20 ms frame of 16 kHz PCM16 (frameBytes).
const frameInterval = 20 * time.Millisecond

// BenchmarkSTTRoundTrip measures one bidirectional STT stream through the
// Host (resilient chain, go-plugin gRPC, AutoMTLS, real plugin process): a
// 640-byte frame out, the plugin's partial back. "lockstep" sends the next
// frame as soon as the answer arrived; "paced" sends one frame per 20 ms as
// a live microphone does, so both processes idle between frames. Reports
// p50/p99 round trip in µs. Use -benchtime=1000x for stable percentiles.
func BenchmarkSTTRoundTrip(b *testing.B) {
	h, err := New(config.Plugins{Instances: []config.Instance{{
		Name: "stt", Kind: config.KindSTT, Path: faultPluginPath, Args: []string{"-kind", "stt"},
		StartTimeout: testTimeout,
	}}}, config.Resilience{}, config.Pipeline{STT: []string{"stt"}}, nil, slog.New(slog.DiscardHandler))
	require.NoError(b, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	require.NoError(b, h.Start(ctx))
	defer func() { require.NoError(b, h.Close(context.Background())) }()

	for _, mode := range []struct {
		name  string
		paced bool
	}{{"lockstep", false}, {"paced", true}} {
		b.Run(mode.name, func(b *testing.B) {
			s, err := h.STT().Transcribe(ctx, sdk.STTConfig{SampleRate: 16000, Encoding: sdk.EncodingPCM16LE, InterimResults: true})
			require.NoError(b, err)
			frame := make([]byte, frameBytes)
			// Warm up the stream (first output ends replay buffering).
			require.NoError(b, s.SendAudio(frame))
			_, err = s.Recv()
			require.NoError(b, err)

			var ticker *time.Ticker
			if mode.paced {
				ticker = time.NewTicker(frameInterval)
				defer ticker.Stop()
			}
			rtts := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				if ticker != nil {
					<-ticker.C
				}
				t0 := time.Now()
				if err := s.SendAudio(frame); err != nil {
					b.Fatal(err)
				}
				if _, err := s.Recv(); err != nil {
					b.Fatal(err)
				}
				rtts = append(rtts, time.Since(t0))
			}
			b.StopTimer()
			require.NoError(b, s.CloseSend())
			slices.Sort(rtts)
			pct := func(p float64) float64 {
				return float64(rtts[int(p*float64(len(rtts)-1))].Nanoseconds()) / float64(time.Microsecond)
			}
			b.ReportMetric(pct(0.50), "p50-µs")
			b.ReportMetric(pct(0.99), "p99-µs")
			b.ReportMetric(0, "ns/op")
		})
	}
}
