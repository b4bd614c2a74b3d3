package pluginhost

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
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
// p50/p99 round trip in µs. The -direct variants bypass the resilience
// layer. Use -benchtime=1000x for stable percentiles.
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

	gen, err := h.instances[0].acquire()
	require.NoError(b, err)
	for _, mode := range []struct {
		name  string
		paced bool
		stt   sdk.STT
	}{
		{"lockstep", false, h.STT()},
		{"paced", true, h.STT()},
		// The same without the resilience layer (breaker, retry, replay
		// buffer): the bare go-plugin gRPC client, to show what the layer costs.
		{"lockstep-direct", false, gen.stt},
		{"paced-direct", true, gen.stt},
	} {
		b.Run(mode.name, func(b *testing.B) {
			s, err := mode.stt.Transcribe(ctx, sdk.STTConfig{SampleRate: 16000, Encoding: sdk.EncodingPCM16LE, InterimResults: true})
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
			hostSw, pluginSw := contextSwitches(b, os.Getpid()), contextSwitches(b, gen.pid)
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
			hostSw = contextSwitches(b, os.Getpid()) - hostSw
			pluginSw = contextSwitches(b, gen.pid) - pluginSw
			require.NoError(b, s.CloseSend())
			slices.Sort(rtts)
			pct := func(p float64) float64 {
				return float64(rtts[int(p*float64(len(rtts)-1))].Nanoseconds()) / float64(time.Microsecond)
			}
			b.ReportMetric(pct(0.50), "p50-µs")
			b.ReportMetric(pct(0.99), "p99-µs")
			b.ReportMetric(float64(hostSw)/float64(b.N), "host-ctxsw/frame")
			b.ReportMetric(float64(pluginSw)/float64(b.N), "plugin-ctxsw/frame")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// contextSwitches sums the voluntary and involuntary context switches of
// every thread of process pid: a load-independent count of the wake-ups a
// frame costs.
func contextSwitches(b *testing.B, pid int) int {
	b.Helper()
	total := 0
	{
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		require.NoError(b, err)
		for _, task := range tasks {
			status, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, task.Name()))
			if err != nil {
				continue // the thread exited
			}
			for _, line := range strings.Split(string(status), "\n") {
				if k, v, ok := strings.Cut(line, ":"); ok && strings.HasSuffix(k, "ctxt_switches") {
					n, err := strconv.Atoi(strings.TrimSpace(v))
					require.NoError(b, err)
					total += n
				}
			}
		}
	}
	return total
}
