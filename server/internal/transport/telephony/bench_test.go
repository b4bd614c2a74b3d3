package telephony_test

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/session/sessiontest"
)

// loadDuration is how long each load level is measured after warm-up.
const loadDuration = 10 * time.Second

// BenchmarkConcurrentCalls runs N phones in this process against the
// telephony routes with fake plugins, on the wall clock: each streams
// μ-law at real time in a loop — 1 s of speech, then 3 s of quiet — and
// gets a spoken answer (marks echoed) for every question. It reports the
// process CPU per call, phones included, as the WebRTC transport's
// BenchmarkConcurrentSessions does.
// Run: go test -run '^$' -bench ConcurrentCalls -benchtime 1x ./server/internal/transport/telephony/
func BenchmarkConcurrentCalls(b *testing.B) {
	for _, n := range []int{1, 10, 50, 100} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			for range b.N {
				runCalls(b, n)
			}
		})
	}
}

func runCalls(b *testing.B, n int) {
	b.Helper()
	transcripts := make([]string, 0, n*20)
	for range cap(transcripts) {
		transcripts = append(transcripts, "hello there")
	}
	h := newHarness(b, reply("Sure, here is a short spoken answer for you, my friend."), transcripts, func(s *setup) {
		s.wallClock = true
		s.session.MaxSessions = n + 1
	})
	var samples []int16
	samples = append(samples, sessiontest.Speech(time.Second, audio.G711Rate)...)
	samples = append(samples, sessiontest.Silence(3*time.Second, audio.G711Rate)...)
	var msgs []string
	for _, f := range sessiontest.Frames(sessiontest.PCM(samples), audio.G711Rate) {
		msgs = append(msgs, twMedia(streamSID, base64.StdEncoding.EncodeToString(audio.Mulaw.Encode(nil, f))))
	}
	phones := make([]*phone, n)
	for i := range phones {
		tw := h.signedWebhook()
		phones[i] = h.dial(tw)
		phones[i].start(tw)
	}
	require.Eventually(b, func() bool { return h.mgr.Count() == n }, waitFor, time.Millisecond)
	var received atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, p := range phones {
		wg.Add(2)
		go func() { // the phone's ear: count media, echo marks
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case o, ok := <-p.in:
					if !ok || o.err != nil {
						return
					}
					switch o.Event {
					case "media":
						received.Add(1)
					case "mark":
						p.echo(o.Mark.Name)
					}
				}
			}
		}()
		go func() { // the phone's mouth: one media message per 20 ms
			defer wg.Done()
			time.Sleep(time.Duration(rand.Int64N(int64(frameDur)))) //nolint:gosec // load spread, not synchronisation.
			tick := time.NewTicker(frameDur)
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-tick.C:
					if p.c.Write(b.Context(), websocket.MessageText, []byte(msgs[i%len(msgs)])) != nil {
						return
					}
				}
			}
		}()
	}
	warm := time.NewTimer(time.Second)
	<-warm.C
	cpu0, t0, got0 := cpuTime(b), time.Now(), received.Load()
	b.ResetTimer()
	end := time.NewTimer(loadDuration)
	<-end.C
	b.StopTimer()
	cpu, wall, got := cpuTime(b)-cpu0, time.Since(t0), received.Load()-got0
	close(stop)
	wg.Wait()
	for _, p := range phones {
		_ = p.c.CloseNow()
	}
	b.ReportMetric(float64(cpu)/float64(wall)*100/float64(n), "cpu%/call")
	b.ReportMetric(float64(cpu)/float64(wall)*100, "cpu%total")
	b.ReportMetric(float64(got)/wall.Seconds()/float64(n), "media-out/s/call")
}

func cpuTime(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
