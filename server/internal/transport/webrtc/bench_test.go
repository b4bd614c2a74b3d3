package webrtc_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/vad"
)

// BenchmarkFramePipeline is the transport's CPU per 20 ms frame in each
// direction, as a session on this transport pays it: Opus decode to 16 kHz
// (libopus resamples inside the codec) + energy VAD on the way in, Opus
// encode of a 16 kHz frame on the way out. The "48k+resample" variant is
// the alternative (decode at 48 kHz, then Parley's resampler).
func BenchmarkFramePipeline(b *testing.B) {
	speech := speechWAV(b, "Hello there. What is the weather like in Paris today? I would like to book a table.")
	pkts := opusPackets(b, speech)
	frames := len(speech) / audio.FrameSamples
	det := vad.NewEnergyDetector(config.VAD{MinSpeech: 100 * time.Millisecond, MinSilence: 300 * time.Millisecond})
	enc, err := audio.NewOpusEncoder(audio.SampleRate)
	require.NoError(b, err)
	for _, variant := range []string{"libopus16k", "libopus48k+resample"} {
		b.Run(variant, func(b *testing.B) {
			rate := audio.SampleRate
			var rs *audio.Resampler
			if variant != "libopus16k" {
				rate = audio.OpusSampleRate
				rs, err = audio.NewResampler(audio.OpusSampleRate, audio.SampleRate)
				require.NoError(b, err)
			}
			dec, err := audio.NewOpusDecoder(rate)
			require.NoError(b, err)
			var pcm, down []int16
			var frame audio.Frame
			out := make([]byte, 0, audio.OpusMaxPacketBytes)
			b.ResetTimer()
			for i := range b.N {
				pcm, err = dec.Decode(pcm[:0], pkts[i%len(pkts)])
				if err != nil {
					b.Fatal(err)
				}
				if rs != nil {
					down = rs.Process(down[:0], pcm)
					pcm = append(pcm[:0], down...)
				}
				copy(frame[:], pcm)
				det.IsSpeech(&frame)
				f := i % frames * audio.FrameSamples
				if out, err = enc.Encode(out[:0], speech[f:f+audio.FrameSamples]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// loadDuration is how long each load level runs after warm-up.
const loadDuration = 10 * time.Second

// BenchmarkConcurrentSessions runs N pion client peers in this process
// against one handler with fake plugins: each streams speech at real time
// in a loop and gets a spoken answer for every utterance. It reports the
// process CPU per session (clients included), the server's late frames
// (sent more than 20 ms after their slot) and the clients' late packets
// (arrival more than 20 ms behind the RTP clock within a talk spurt).
// Run: go test -run '^$' -bench ConcurrentSessions -benchtime 1x ./server/internal/transport/webrtc/
func BenchmarkConcurrentSessions(b *testing.B) {
	for _, n := range []int{1, 10, 25, 50, 75, 100, 150, 200} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			for range b.N {
				runLoad(b, n)
			}
		})
	}
}

func runLoad(b *testing.B, n int) {
	b.Helper()
	const answer = "Sure, here is a short spoken answer for you, my friend."
	transcripts := make([]string, 0, n*20)
	for range cap(transcripts) {
		transcripts = append(transcripts, "hello there")
	}
	hs := newHarness(b, reply(answer), transcripts, func(s *setup) {
		s.session.MaxSessions, s.session.MaxSessionsPerIP = n+1, n+1
		s.rtc.DisconnectedTimeout, s.rtc.FailedTimeout = 5*time.Second, 10*time.Second
	})
	pkts := utterance(b, "Hello there, what is the weather like today?")
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = hs.dial(clientOpts{noDecode: true})
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Spread the clients over one frame period.
			time.Sleep(time.Duration(rand.Int64N(int64(frameDur)))) //nolint:gosec // load spread, not synchronisation.
			tick := time.NewTicker(frameDur)
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-tick.C:
					c.sendPacket(pkts[i%len(pkts)])
				}
			}
		}()
	}
	warm := time.NewTimer(time.Second)
	<-warm.C
	st0, cpu0, t0 := hs.h.Stats(), cpuTime(b), time.Now()
	for _, c := range clients {
		c.mu.Lock()
		c.arrivals = c.arrivals[:0]
		c.mu.Unlock()
	}
	b.ResetTimer()
	end := time.NewTimer(loadDuration)
	<-end.C
	b.StopTimer()
	st1, cpu1, wall := hs.h.Stats(), cpuTime(b), time.Since(t0)
	close(stop)
	wg.Wait()
	late := 0
	var behind []time.Duration
	for _, c := range clients {
		c.mu.Lock()
		n, d := lateArrivals(c.arrivals)
		c.mu.Unlock()
		late += n
		behind = append(behind, d...)
	}
	slices.Sort(behind)
	if len(behind) > 0 {
		b.ReportMetric(float64(behind[len(behind)*99/100].Microseconds())/1000, "client-p99-behind-ms")
		b.ReportMetric(float64(behind[len(behind)-1].Microseconds())/1000, "client-max-behind-ms")
	}
	cpu := cpu1 - cpu0
	frames := st1.FramesSent - st0.FramesSent
	in := st1.PacketsIn - st0.PacketsIn
	b.ReportMetric(float64(cpu)/float64(wall)*100/float64(n), "cpu%/session")
	b.ReportMetric(float64(cpu)/float64(wall)*100, "cpu%total")
	b.ReportMetric(float64(cpu.Microseconds())/float64(in+frames), "µs/frame")
	b.ReportMetric(float64(st1.LateFrames-st0.LateFrames), "server-late")
	b.ReportMetric(float64(late), "client-late")
	b.ReportMetric(100*float64(st1.LateFrames-st0.LateFrames)/float64(max(frames, 1)), "server-late%")
	b.ReportMetric(float64(frames)/wall.Seconds(), "out-frames/s")
	b.ReportMetric(float64(in)/wall.Seconds(), "in-frames/s")
	b.ReportMetric(float64(st1.PacketsLost-st0.PacketsLost), "in-lost")
	for _, c := range clients {
		c.close()
	}
}

// lateArrivals counts packets that arrived more than one frame behind the
// RTP clock, measured from the earliest packet of their talk spurt, and
// returns how far behind each packet was.
func lateArrivals(arr []arrival) (int, []time.Duration) {
	late := 0
	behind := make([]time.Duration, 0, len(arr))
	var base time.Duration
	started := false
	for i, a := range arr {
		off := time.Duration(a.at.UnixNano()) - time.Duration(a.ts)*time.Second/48000
		if !started || a.marker || (i > 0 && a.ts-arr[i-1].ts != 960) {
			base, started = off, true
			continue
		}
		base = min(base, off)
		behind = append(behind, off-base)
		if off-base > frameDur {
			late++
		}
	}
	return late, behind
}

// cpuTime is the process's user+system CPU time.
func cpuTime(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
