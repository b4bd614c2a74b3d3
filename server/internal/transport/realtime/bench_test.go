package realtime_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/protocol/parleyv1"
	"github.com/parleyhq/parley/server/internal/session"
	"github.com/parleyhq/parley/server/internal/session/sessiontest"
	"github.com/parleyhq/parley/server/internal/transport/realtime"
	"github.com/parleyhq/parley/server/internal/transport/ws"
)

// Load of the protocol comparison.
const (
	benchLoad  = 10 * time.Second
	benchWarm  = time.Second
	benchFrame = 20 * time.Millisecond
	benchRate  = 24000
)

// BenchmarkRealtimeVsVoice runs N clients in this process against
// /v1/realtime and, for comparison, /ws/voice, with the same fake plugins
// on the wall clock: each streams 24 kHz PCM at real time in a loop — 1 s
// of speech, then 3 s of quiet — and gets a spoken 24 kHz answer to every
// question. /v1/realtime carries audio as base64 in JSON events both ways;
// /ws/voice as binary frames. It reports the process CPU per session,
// clients included.
// Run: go test -run '^$' -bench RealtimeVsVoice -benchtime 1x ./server/internal/transport/realtime/
func BenchmarkRealtimeVsVoice(b *testing.B) {
	for _, proto := range []string{"realtime", "voice"} {
		for _, n := range []int{1, 20} {
			b.Run(fmt.Sprintf("%s/n=%d", proto, n), func(b *testing.B) {
				for range b.N {
					runLoad(b, proto, n)
				}
			})
		}
	}
}

func benchManager(b *testing.B, n int) *session.Manager {
	b.Helper()
	transcripts := make([]string, 0, 64*n)
	for range cap(transcripts) {
		transcripts = append(transcripts, "hello there")
	}
	llm := &sessiontest.LLM{Reply: func(sdk.GenerateRequest) ([]sdk.GenerateEvent, error) {
		return sessiontest.Text("Sure, here is a short spoken answer for you, my friend."), nil
	}}
	scfg := config.Session{
		MaxSessions: n + 1, SystemPrompt: "Test.", Voice: "slt", Language: "en", OutputSampleRate: benchRate,
		InterruptAfter: 300 * time.Millisecond, MaxToolRounds: 3, ClientToolTimeout: 10 * time.Second,
		MaxHistory: 50, OutputLookahead: 100 * time.Millisecond,
	}
	vad := config.VAD{
		MinSpeech: 100 * time.Millisecond, MinSilence: 300 * time.Millisecond, PreRoll: 200 * time.Millisecond,
		MinSilenceMin: 100 * time.Millisecond, MinSilenceMax: 2 * time.Second,
		ThresholdMin: 6, ThresholdMax: 24, MinSpeechMin: 60 * time.Millisecond, MinSpeechMax: 500 * time.Millisecond,
	}
	mgr, err := session.NewManager(scfg, vad, config.Tools{}, session.Plugins{
		STT: &sessiontest.STT{Transcripts: transcripts}, LLM: llm, TTS: &sessiontest.TTS{WordDuration: 200 * time.Millisecond},
	}, nil, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	require.NoError(b, err)
	return mgr
}

func runLoad(b *testing.B, proto string, n int) {
	b.Helper()
	mgr := benchManager(b, n)
	wsCfg := config.WebSocket{MaxMessageBytes: 64 << 10, MaxMessagesPerSecond: 1000, SendBuffer: 4096, WriteTimeout: 10 * time.Second}
	var srv *httptest.Server
	var sub string
	if proto == "realtime" {
		srv, sub = httptest.NewServer(realtime.New(wsCfg, config.Auth{}, mgr, nil)), "realtime"
	} else {
		srv, sub = httptest.NewServer(ws.New(wsCfg, config.Auth{}, mgr, nil)), parleyv1.Version
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		require.NoError(b, mgr.Drain(ctx))
		srv.Close()
	}()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	var samples []int16
	samples = append(samples, sessiontest.Speech(time.Second, benchRate)...)
	samples = append(samples, sessiontest.Silence(3*time.Second, benchRate)...)
	frames := sessiontest.Frames(sessiontest.PCM(samples), benchRate)
	msgs := make([][]byte, len(frames))
	typ := websocket.MessageBinary
	for i, f := range frames {
		msgs[i] = f
		if proto == "realtime" {
			msgs[i] = []byte(`{"type":"input_audio_buffer.append","audio":"` + base64.StdEncoding.EncodeToString(f) + `"}`)
			typ = websocket.MessageText
		}
	}
	conns := make([]*websocket.Conn, n)
	for i := range conns {
		c, resp, err := websocket.Dial(b.Context(), url, &websocket.DialOptions{Subprotocols: []string{sub}})
		require.NoError(b, err)
		if resp.Body != nil {
			_ = resp.Body.Close()
		}
		c.SetReadLimit(1 << 20)
		if proto == "voice" {
			rate := benchRate
			hello, _ := json.Marshal(map[string]any{"type": "session.update", "input_sample_rate": rate, "output_sample_rate": rate})
			require.NoError(b, c.Write(b.Context(), websocket.MessageText, hello))
		}
		conns[i] = c
	}
	require.Eventually(b, func() bool { return mgr.Count() == n }, waitFor, time.Millisecond)
	var audioOut atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(2)
		go func() { // the ear: count audio messages
			defer wg.Done()
			for {
				mt, data, err := c.Read(context.Background())
				if err != nil {
					return
				}
				if mt == websocket.MessageBinary || strings.Contains(string(data[:min(len(data), 48)]), "output_audio.delta") {
					audioOut.Add(1)
				}
			}
		}()
		go func() { // the mouth: one 20 ms frame per tick
			defer wg.Done()
			time.Sleep(time.Duration(rand.Int64N(int64(benchFrame)))) //nolint:gosec // load spread, not synchronisation.
			tick := time.NewTicker(benchFrame)
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-tick.C:
					if c.Write(context.Background(), typ, msgs[i%len(msgs)]) != nil {
						return
					}
				}
			}
		}()
	}
	warm := time.NewTimer(benchWarm)
	<-warm.C
	cpu0, t0, got0 := cpuTime(b), time.Now(), audioOut.Load()
	b.ResetTimer()
	end := time.NewTimer(benchLoad)
	<-end.C
	b.StopTimer()
	cpu, wall, got := cpuTime(b)-cpu0, time.Since(t0), audioOut.Load()-got0
	close(stop)
	for _, c := range conns {
		_ = c.CloseNow()
	}
	wg.Wait()
	b.ReportMetric(float64(cpu)/float64(wall)*100/float64(n), "cpu%/session")
	b.ReportMetric(float64(got)/wall.Seconds()/float64(n), "audio-out/s/session")
}

func cpuTime(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
