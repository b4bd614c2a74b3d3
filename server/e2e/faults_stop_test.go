package e2e

import (
	"context"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Sizes of the smaller fault tests.
const (
	stopSessions = 6
	stopTurns    = 2
	// stopAt is when the plugin is frozen, once every session is talking.
	stopAt = 3 * time.Second
)

// TestFaultSIGSTOPPlugin: a TTS plugin that hangs (SIGSTOP: alive, silent)
// is found by its failed health check, killed and restarted; the replies it
// held are resumed and every turn still completes.
func TestFaultSIGSTOPPlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs the server and plugins")
	}
	srv := startServerWith(t, bins.get(t), faultConfig)
	ctx := t.Context()
	before := pluginStatus(t, srv.addr)["tts-flite"].PID
	require.Positive(t, before)
	stopped := make(chan error, 1)
	go func() {
		select {
		case <-time.After(stopAt):
			stopped <- syscall.Kill(before, syscall.SIGSTOP)
		case <-ctx.Done():
			stopped <- ctx.Err()
		}
	}()
	runs := runTalkers(ctx, srv.addr, stopSessions, stopTurns, utterance())
	require.NoError(t, <-stopped)
	turns, completed, interrupted := checkRuns(t, runs, stopTurns)
	after := pluginStatus(t, srv.addr)["tts-flite"]
	assert.NotEqual(t, before, after.PID, "the frozen plugin was replaced")
	assert.Equal(t, "running", after.State)
	down := 0
	for _, r := range serverLog(srv) {
		if r.Msg == "plugin down, restarting" && r.Plugin == "tts-flite" {
			down++
		}
	}
	assert.Equal(t, 1, down)
	assert.True(t, strings.Contains(srv.logs.String(), "health check"), "found by its health check")
	t.Logf("SIGSTOP tts: %d sessions, %d turns, %d completed, %d ended at what was said", stopSessions, turns, completed, interrupted)
	require.NoError(t, srv.stop())
	assertNoPluginLeft(t, map[int]bool{before: true, after.PID: true})
}

// TestFaultSIGTERMMidReply: the server receives SIGTERM while every
// session is hearing a reply: each client gets 1001 (going away), the
// server exits 0 and leaves no plugin process.
func TestFaultSIGTERMMidReply(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs the server and plugins")
	}
	srv := startServerWith(t, bins.get(t), faultConfig)
	ctx := t.Context()
	pids := map[int]bool{}
	for _, p := range pluginStatus(t, srv.addr) {
		pids[p.PID] = true
	}
	samples := utterance()
	var wg sync.WaitGroup
	errs := make([]error, stopSessions)
	hearing := make(chan struct{}, stopSessions)
	for i := range stopSessions {
		tk, err := dialTalker(ctx, srv.addr)
		require.NoError(t, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { _ = tk.c.CloseNow() }()
			_, errs[i] = tk.turnUntilAudio(ctx, samples, hearing)
		}()
	}
	for range stopSessions {
		select {
		case <-hearing:
		case <-time.After(turnLimit):
			t.Fatal("not every session got to hear its reply")
		}
	}
	require.NoError(t, srv.stop(), "parley exits 0 on SIGTERM")
	wg.Wait()
	for i, err := range errs {
		assert.Equal(t, websocket.StatusGoingAway, websocket.CloseStatus(err), "session %d: %v", i, err)
	}
	assertNoPluginLeft(t, pids)
}

// turnUntilAudio is turn that signals hearing once the reply's first
// audio arrived, and then keeps going until the connection ends.
func (tk *talker) turnUntilAudio(ctx context.Context, samples []int16, hearing chan<- struct{}) (faultTurn, error) {
	go func() {
		select {
		case <-tk.frames:
			hearing <- struct{}{}
		case <-ctx.Done():
		}
	}()
	for {
		tr, err := tk.turn(ctx, samples)
		if err == nil {
			continue
		}
		if websocket.CloseStatus(err) == -1 {
			// A write may see the end first; the reader has its status.
			select {
			case rerr := <-tk.readErr:
				return tr, rerr
			case <-ctx.Done():
			}
		}
		return tr, err
	}
}
