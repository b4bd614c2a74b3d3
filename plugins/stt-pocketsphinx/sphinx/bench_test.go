package sphinx

import (
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// cpuTime returns the process's user plus system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkTranscribe streams one sentence per iteration in 20 ms chunks
// through a warm decoder and reports CPU seconds per second of audio.
func BenchmarkTranscribe(b *testing.B) {
	for _, tc := range []struct {
		name    string
		interim bool
		session string
	}{
		{"final only", false, ""},
		{"with partials", true, ""},
		// A session's streams recall and leave its CMN state.
		{"final only in a session", false, "sess_bench"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			e := newEngine(b, `{"pool_size": 1}`)
			pcm := speech(b, "what is the weather in paris today")
			audio := samplesToDuration(int64(len(pcm) / bytesPerSample))
			b.SetBytes(int64(len(pcm)))
			cpuStart, wallStart := cpuTime(b), time.Now()
			for b.Loop() {
				cfg := sttConfig(tc.interim)
				cfg.SessionID = tc.session
				r := transcribeWith(b, e, cfg, pcm)
				require.Len(b, r.finals(), 1)
			}
			cpu, wall := cpuTime(b)-cpuStart, time.Since(wallStart)
			total := audio.Seconds() * float64(b.N)
			b.ReportMetric(cpu.Seconds()/total, "cpu-s/audio-s")
			b.ReportMetric(wall.Seconds()/total, "wall-s/audio-s")
		})
	}
}

// BenchmarkDecoderInit measures loading the default models into a new
// decoder: the cost the warm pool saves every stream.
func BenchmarkDecoderInit(b *testing.B) {
	args := DefaultSettings().decoderArgs()
	for b.Loop() {
		d, err := newDecoder(args)
		require.NoError(b, err)
		d.free()
	}
	trimHeap()
}

// BenchmarkCancel measures how long Recv takes to return after the
// stream's context is cancelled while audio is being decoded.
func BenchmarkCancel(b *testing.B) {
	e := newEngine(b, `{"pool_size": 1, "acquire_wait": "10s"}`)
	pcm := speech(b, "what is the weather in paris today")
	var worst time.Duration
	var total time.Duration
	for b.Loop() {
		ctx, cancel := context.WithCancel(context.Background())
		st, err := e.Transcribe(ctx, sttConfig(true))
		require.NoError(b, err)
		recvErr := make(chan time.Time, 1)
		go func() {
			for {
				if _, err := st.Recv(); err != nil {
					recvErr <- time.Now()
					return
				}
			}
		}()
		// One big send keeps the worker busy decoding when cancel lands.
		require.NoError(b, st.SendAudio(pcm))
		start := time.Now()
		cancel()
		d := (<-recvErr).Sub(start)
		total += d
		worst = max(worst, d)
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N), "µs-to-recv/op")
	b.ReportMetric(float64(worst.Microseconds()), "worst-µs")
}

// rssBytes returns the process's resident set size.
func rssBytes(b *testing.B) int64 {
	b.Helper()
	raw, err := os.ReadFile("/proc/self/statm")
	require.NoError(b, err)
	fields := strings.Fields(string(raw))
	require.GreaterOrEqual(b, len(fields), 2)
	pages, err := strconv.ParseInt(fields[1], 10, 64)
	require.NoError(b, err)
	return pages * int64(os.Getpagesize())
}

// BenchmarkPoolMemory warms a pool of two decoders, reports the resident
// memory each one costs, then closes the pool and reports how much of it
// stays resident afterwards.
func BenchmarkPoolMemory(b *testing.B) {
	const poolSize = 2
	const mb = 1 << 20
	var perDecoder, kept float64
	for b.Loop() {
		trimHeap()
		before := rssBytes(b)
		s := DefaultSettings()
		s.PoolSize = poolSize
		p, err := newPool(context.Background(), s, testLogger(), func() {})
		require.NoError(b, err)
		warm := rssBytes(b)
		p.close()
		after := rssBytes(b)
		perDecoder = float64(warm-before) / poolSize / mb
		kept = float64(after-before) / mb
	}
	b.ReportMetric(perDecoder, "MB-rss/decoder")
	b.ReportMetric(kept, "MB-rss-after-close")
}
