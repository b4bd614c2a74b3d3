package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/session"
	"github.com/parleyhq/parley/server/internal/session/sessiontest"
	"github.com/parleyhq/parley/server/internal/transport/ws"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// drainLimit bounds the test server's drain; a failure guard, not timing.
const drainLimit = 20 * time.Second

// slowLLM answers like sessiontest.LLM after delay(live sessions), a
// model whose latency grows with the load.
type slowLLM struct {
	*sessiontest.LLM
	live  *atomic.Int64
	delay func(live int64) time.Duration
}

func (l *slowLLM) Generate(ctx context.Context, req sdk.GenerateRequest) (sdk.LLMStream, error) {
	if d := l.delay(l.live.Load()); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return l.LLM.Generate(ctx, req)
}

// testServer is the real /ws/voice stack (session manager, parley.v1,
// WebSocket transport) over sessiontest's in-process plugins.
type testServer struct {
	url  string
	stt  *sessiontest.STT
	llm  *sessiontest.LLM
	live atomic.Int64
}

// transcripts is more than any test asks.
const transcripts = 1000

func newTestServer(t *testing.T, maxSessions int, delay func(live int64) time.Duration) *testServer {
	t.Helper()
	ts := &testServer{
		stt: &sessiontest.STT{Transcripts: make([]string, transcripts)},
		llm: &sessiontest.LLM{Reply: func(sdk.GenerateRequest) ([]sdk.GenerateEvent, error) {
			return sessiontest.Text("Hello", " there."), nil
		}},
	}
	for i := range ts.stt.Transcripts {
		ts.stt.Transcripts[i] = "what time is it"
	}
	if delay == nil {
		delay = func(int64) time.Duration { return 0 }
	}
	cfg := config.Default()
	cfg.Session.MaxSessions, cfg.Session.MaxSessionsPerIP = maxSessions, 0
	cfg.VAD.MinSilence = 200 * time.Millisecond
	logger := slog.New(slog.DiscardHandler)
	mgr, err := session.NewManager(cfg.Session, cfg.VAD, config.Tools{Timezone: "UTC"},
		session.Plugins{STT: ts.stt, LLM: &slowLLM{LLM: ts.llm, live: &ts.live, delay: delay}, TTS: &sessiontest.TTS{}},
		nil, prometheus.NewRegistry(), logger)
	require.NoError(t, err)
	h := ws.New(cfg.WebSocket, cfg.Auth, mgr, logger)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.live.Add(1)
		defer ts.live.Add(-1)
		h.ServeHTTP(w, r)
	}))
	ts.url = srv.URL
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), drainLimit)
		defer cancel()
		assert.NoError(t, mgr.Drain(ctx))
		srv.Close()
	})
	return ts
}

func baseConfig(url string) Config {
	return Config{
		URL: url, Speech: Question(), Sessions: 3, Duration: 4 * time.Second,
		Gap: 100 * time.Millisecond, Stagger: 50 * time.Millisecond, TurnTimeout: 5 * time.Second, MaxLate: -1,
	}
}

// TestRunCounts: every caller connects, asks, is answered; the counts
// agree with each other and with what the server's plugins saw, and the
// report prints as a table and as one JSON line.
func TestRunCounts(t *testing.T) {
	ts := newTestServer(t, 10, nil)
	cfg := baseConfig(ts.url)
	rep, err := Run(t.Context(), cfg, nil)
	require.NoError(t, err)
	require.Len(t, rep.Steps, 1)
	st := rep.Steps[0]
	assert.True(t, rep.OK, "crossed: %v, failures: %v", st.Crossed, st.Failures)
	assert.Equal(t, ModeRun, rep.Mode)
	assert.Equal(t, 3, st.SessionsOK)
	assert.Zero(t, st.SessionsFailed)
	assert.Equal(t, 3, st.Live)
	assert.GreaterOrEqual(t, st.Answered, 3, "each caller's first question is answered within the run")
	assert.Equal(t, st.Turns, st.Answered+st.Unrecognized+st.TimedOut)
	assert.Zero(t, st.Unrecognized)
	assert.Equal(t, st.Answered+st.PendingCounted, st.VoiceToVoice.N)
	// The server reports each reply when it ends: all but the (at most one
	// per caller) still playing when the window closed.
	assert.LessOrEqual(t, st.ServerVoiceToVoice.N, st.Answered)
	assert.GreaterOrEqual(t, st.ServerVoiceToVoice.N, st.Answered-3)
	assert.LessOrEqual(t, st.VoiceToVoice.P50, st.VoiceToVoice.P90)
	assert.LessOrEqual(t, st.VoiceToVoice.P90, st.VoiceToVoice.P99)
	assert.LessOrEqual(t, st.VoiceToVoice.P99, st.VoiceToVoice.Max)
	assert.Positive(t, st.VoiceToVoice.P50)
	// Two words of 100 ms each: 10 frames of 20 ms per finished answer.
	assert.GreaterOrEqual(t, st.ServerFrames, int64(10*(st.Answered-3)+min(st.Answered, 3)))
	assert.Positive(t, st.ClientFrames)
	assert.GreaterOrEqual(t, len(ts.llm.Requests()), st.Answered)
	assert.GreaterOrEqual(t, ts.stt.Streams(), st.Turns)
	assert.Zero(t, st.ServerErrors)

	var out bytes.Buffer
	require.NoError(t, rep.WriteTable(&out))
	require.NoError(t, rep.WriteJSON(&out))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	assert.Contains(t, lines[0], "sessions")
	var back Report
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &back))
	assert.Equal(t, st.Answered, back.Steps[0].Answered)
}

// TestRunFailedSessions: a server that admits two sessions refuses the
// third caller; the run reports one failed session and is not OK.
func TestRunFailedSessions(t *testing.T) {
	ts := newTestServer(t, 2, nil)
	cfg := baseConfig(ts.url)
	cfg.Duration = 2 * time.Second
	rep, err := Run(t.Context(), cfg, nil)
	require.NoError(t, err)
	st := rep.Steps[0]
	assert.False(t, rep.OK)
	assert.Equal(t, 1, st.SessionsFailed)
	assert.Equal(t, 2, st.SessionsOK)
	require.Len(t, st.Failures, 1)
	assert.Contains(t, st.Failures[0], "HTTP 503")
	assert.Contains(t, st.Crossed, "1 sessions failed")
}

// TestRampStopsAtThreshold: the model takes 2 s once three callers are
// connected, so with a 1 s p99 threshold the ramp passes 1 and 2
// sessions, crosses at 3 and reports a knee of 2.
func TestRampStopsAtThreshold(t *testing.T) {
	ts := newTestServer(t, 10, func(live int64) time.Duration {
		if live >= 3 {
			return 2 * time.Second
		}
		return 0
	})
	cfg := baseConfig(ts.url)
	cfg.Ramp, cfg.Sessions, cfg.Step, cfg.MaxSessions = true, 1, 1, 6
	cfg.StepDuration, cfg.Stagger, cfg.MaxP99 = 4*time.Second, 0, time.Second
	var progress bytes.Buffer
	rep, err := Run(t.Context(), cfg, &progress)
	require.NoError(t, err)
	require.Len(t, rep.Steps, 3, "steps: %+v", rep.Steps)
	for i, st := range rep.Steps[:2] {
		assert.Empty(t, st.Crossed, "step %d", i+1)
		assert.Equal(t, i+1, st.Sessions)
		assert.Positive(t, st.Answered)
	}
	last := rep.Steps[2]
	assert.Equal(t, 3, last.Sessions)
	require.NotEmpty(t, last.Crossed)
	assert.Contains(t, last.Crossed[0], "voice-to-voice p99")
	assert.Greater(t, last.VoiceToVoice.P99, float64(time.Second.Milliseconds()))
	assert.Equal(t, 2, rep.Knee)
	assert.Equal(t, "threshold", rep.StopReason)
	assert.True(t, rep.OK)
	assert.Contains(t, progress.String(), "sessions live")

	var out bytes.Buffer
	require.NoError(t, rep.WriteTable(&out))
	assert.Contains(t, out.String(), "this box holds ~2 sessions with this config")
}

// TestRampMaxSessions: with no threshold crossed the ramp ends at
// --max-sessions, which is its knee.
func TestRampMaxSessions(t *testing.T) {
	ts := newTestServer(t, 10, nil)
	cfg := baseConfig(ts.url)
	cfg.Ramp, cfg.Sessions, cfg.Step, cfg.MaxSessions = true, 1, 1, 2
	cfg.StepDuration, cfg.Stagger, cfg.MaxP99 = 3*time.Second, 0, time.Minute
	rep, err := Run(t.Context(), cfg, nil)
	require.NoError(t, err)
	require.Len(t, rep.Steps, 2)
	assert.Equal(t, 2, rep.Knee)
	assert.Equal(t, "max-sessions", rep.StopReason)
	assert.True(t, rep.OK)
}

// TestRunRefusesRemote: a public address is refused before any dial.
func TestRunRefusesRemote(t *testing.T) {
	cfg := baseConfig("http://192.0.2.10:8080")
	_, err := Run(t.Context(), cfg, nil)
	require.ErrorIs(t, err, ErrRemoteTarget)
}
