package e2e

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/audio"
)

// Soak settings: TestSoak runs only when soakMinutesEnv is set (make soak).
const (
	soakMinutesEnv  = "PARLEY_SOAK_MINUTES"
	soakSessionsEnv = "PARLEY_SOAK_SESSIONS"
	soakSessions    = 20
	// soakSlack is how far goroutines and fds may end above where they
	// started, with no session open either time.
	soakSlack = 5
	// Chances per turn, in percent.
	soakBargeInPct    = 30
	soakHangUpPct     = 10
	soakMaxTurns      = 3
	soakMaxPauseMS    = 2000
	soakSettleTimeout = 30 * time.Second
	// soakSampleEvery is how often the figures are logged along the run
	// (sessions open), to tell growth that levels off from a leak.
	soakSampleEvery = time.Minute
)

// processFigures are the server's own gauges from /metrics.
type processFigures struct {
	goroutines, heap, rss, fds float64
}

func scrape(ctx context.Context, addr string) (processFigures, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return processFigures{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return processFigures{}, err
	}
	defer resp.Body.Close()
	var f processFigures
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			continue
		}
		switch name {
		case "go_goroutines":
			f.goroutines = v
		case "go_memstats_heap_alloc_bytes":
			f.heap = v
		case "process_resident_memory_bytes":
			f.rss = v
		case "process_open_fds":
			f.fds = v
		}
	}
	return f, sc.Err()
}

func activeSessions(ctx context.Context, addr string) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return -1
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "parley_sessions_active "); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return -1
			}
			return int(n)
		}
	}
	return -1
}

// soakTurn is turn for the soak: with barge, the user speaks again once
// the agent's audio has started; with hangUp, the client drops the
// connection then instead.
func (tk *talker) soakTurn(ctx context.Context, samples []int16, barge, hangUp bool) (faultTurn, error) {
	if !barge && !hangUp {
		return tk.turn(ctx, samples)
	}
	ctx, cancel := context.WithTimeout(ctx, turnLimit)
	defer cancel()
	var tr faultTurn
	silence := make([]int16, audio.FrameSamples)
	frames := (len(samples) + audio.FrameSamples - 1) / audio.FrameSamples
	tick := time.NewTicker(audio.FrameDuration)
	defer tick.Stop()
	buf := make([]byte, 0, audio.FrameBytes)
	restart := -1
	for i := 0; ; i++ {
		chunk := silence
		if j := i - max(restart, 0); j < frames && (restart >= 0 || i < frames) {
			chunk = samples[j*audio.FrameSamples : min((j+1)*audio.FrameSamples, len(samples))]
		}
		buf = audio.EncodePCM16LE(buf[:0], chunk)
		if err := tk.c.Write(ctx, websocket.MessageBinary, buf); err != nil {
			return tr, fmt.Errorf("write: %w", err)
		}
	drain:
		for {
			select {
			case <-tk.frames:
				tr.frames++
				if tr.frames == 1 && hangUp {
					return tr, tk.c.CloseNow()
				}
				if tr.frames == 1 && restart < 0 {
					restart = i + 1
				}
			case e := <-tk.events:
				// After a barge-in, the interrupted reply's metrics come
				// first; the turn ends with the next reply's.
				if e.Type == "metrics" && (restart < 0 || tr.done.Type == "response.done") {
					return tr, nil
				}
				if e.Type == "response.done" || e.Type == "response.interrupted" {
					tr.done = e
				}
			case err := <-tk.readErr:
				return tr, fmt.Errorf("read: %w", err)
			default:
				break drain
			}
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return tr, fmt.Errorf("turn: %w", ctx.Err())
		}
	}
}

// TestSoak (make soak; not in make test): sessions connect, talk a few
// turns with random barge-ins, hang up (sometimes mid-reply) and come back,
// at random, for PARLEY_SOAK_MINUTES. The server's goroutines and open fds
// with no session open must end where they started; heap and RSS are
// reported.
func TestSoak(t *testing.T) {
	minutes, err := strconv.Atoi(os.Getenv(soakMinutesEnv))
	if err != nil || minutes <= 0 {
		t.Skipf("soak: set %s (make soak)", soakMinutesEnv)
	}
	n := soakSessions
	if v, err := strconv.Atoi(os.Getenv(soakSessionsEnv)); err == nil && v > 0 {
		n = v
	}
	srv := startServerWith(t, bins.get(t), faultConfig)
	ctx := t.Context()
	before, err := scrape(ctx, srv.addr)
	require.NoError(t, err)
	samples := utterance()
	start := time.Now()
	deadline := start.Add(time.Duration(minutes) * time.Minute)
	var mu sync.Mutex
	connects, turns, bargeIns, hangUps, failures := 0, 0, 0, 0, 0
	var wg sync.WaitGroup
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(soakSampleEvery)
		defer tick.Stop()
		end := time.NewTimer(time.Until(deadline))
		defer end.Stop()
		for {
			select {
			case <-tick.C:
			case <-end.C:
				return
			case <-ctx.Done():
				return
			}
			f, err := scrape(ctx, srv.addr)
			if err != nil {
				continue
			}
			t.Logf("soak at %s (%d sessions open): goroutines %.0f, heap %.1f MB, RSS %.1f MB, open fds %.0f",
				time.Since(start).Round(time.Second), activeSessions(ctx, srv.addr), f.goroutines, f.heap/1e6, f.rss/1e6, f.fds)
		}
	}()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano()))) //nolint:gosec // test randomness.
			for time.Now().Before(deadline) && ctx.Err() == nil {
				pause := time.Duration(rng.IntN(soakMaxPauseMS)) * time.Millisecond
				select {
				case <-time.After(pause):
				case <-ctx.Done():
					return
				}
				tk, err := dialTalker(ctx, srv.addr)
				mu.Lock()
				connects++
				if err != nil {
					failures++
				}
				mu.Unlock()
				if err != nil {
					continue
				}
				for range 1 + rng.IntN(soakMaxTurns) {
					barge := rng.IntN(100) < soakBargeInPct
					hangUp := rng.IntN(100) < soakHangUpPct
					_, err := tk.soakTurn(ctx, samples, barge, hangUp)
					mu.Lock()
					turns++
					if barge {
						bargeIns++
					}
					if hangUp {
						hangUps++
					}
					if err != nil && !hangUp {
						failures++
					}
					mu.Unlock()
					if err != nil || hangUp {
						break
					}
				}
				_ = tk.c.CloseNow()
			}
		}()
	}
	wg.Wait()
	<-sampled
	require.Eventually(t, func() bool { return activeSessions(ctx, srv.addr) == 0 }, soakSettleTimeout, 100*time.Millisecond)
	after, err := scrape(ctx, srv.addr)
	require.NoError(t, err)
	t.Logf("soak: %d min, %d sessions at a time, %d connects, %d turns, %d barge-ins, %d hang-ups mid-turn, %d failures", minutes, n, connects, turns, bargeIns, hangUps, failures)
	t.Logf("soak: goroutines %.0f → %.0f, heap %.1f → %.1f MB, RSS %.1f → %.1f MB, open fds %.0f → %.0f",
		before.goroutines, after.goroutines, before.heap/1e6, after.heap/1e6, before.rss/1e6, after.rss/1e6, before.fds, after.fds)
	assert.Zero(t, failures, "every connect and turn worked")
	assert.LessOrEqual(t, after.goroutines, before.goroutines+soakSlack, "goroutines flat")
	assert.LessOrEqual(t, after.fds, before.fds+soakSlack, "open fds flat")
}
