package loadtest

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/session"
	"github.com/parleyhq/parley/server/internal/session/sessiontest"
	rtc "github.com/parleyhq/parley/server/internal/transport/webrtc"
)

// newRTCTestServer is the real WebRTC stack (session manager, the
// webrtc handler on loopback ICE) over sessiontest's in-process plugins.
func newRTCTestServer(t *testing.T) (string, *sessiontest.LLM) {
	t.Helper()
	stt := &sessiontest.STT{Transcripts: make([]string, transcripts)}
	for i := range stt.Transcripts {
		stt.Transcripts[i] = "what time is it"
	}
	llm := &sessiontest.LLM{Reply: func(sdk.GenerateRequest) ([]sdk.GenerateEvent, error) {
		return sessiontest.Text("Hello", " there."), nil
	}}
	cfg := config.Default()
	cfg.Session.MaxSessions, cfg.Session.MaxSessionsPerIP = 10, 0
	cfg.VAD.MinSilence = 200 * time.Millisecond
	cfg.WebRTC.Enabled, cfg.WebRTC.Interfaces, cfg.WebRTC.IncludeLoopback = true, []string{"lo"}, true
	logger := slog.New(slog.DiscardHandler)
	mgr, err := session.NewManager(cfg.Session, cfg.VAD, config.Tools{Timezone: "UTC"},
		session.Plugins{STT: stt, LLM: llm, TTS: &sessiontest.TTS{}}, nil, prometheus.NewRegistry(), logger)
	require.NoError(t, err)
	h, err := rtc.New(cfg.WebRTC, mgr, logger)
	require.NoError(t, err)
	r := chi.NewRouter()
	h.Routes(r)
	srv := httptest.NewServer(r)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), drainLimit)
		defer cancel()
		assert.NoError(t, mgr.Drain(ctx))
		assert.NoError(t, h.Close(ctx))
		srv.Close()
	})
	return srv.URL, llm
}

// TestRunWebRTC: callers on real pion peer connections (Opus both ways,
// the events data channel) connect, ask and are answered; the figures
// are those of the ws caller.
func TestRunWebRTC(t *testing.T) {
	require.Equal(t, rtc.OfferPath, offerPath)
	url, llm := newRTCTestServer(t)
	cfg := baseConfig(url)
	cfg.Transport, cfg.Sessions, cfg.Duration = TransportWebRTC, 2, 5*time.Second
	rep, err := Run(t.Context(), cfg, nil)
	require.NoError(t, err)
	require.Len(t, rep.Steps, 1)
	st := rep.Steps[0]
	assert.True(t, rep.OK, "crossed: %v, failures: %v", st.Crossed, st.Failures)
	assert.Equal(t, TransportWebRTC, rep.Transport)
	assert.Equal(t, 2, st.SessionsOK)
	assert.Zero(t, st.SessionsFailed)
	assert.Positive(t, st.Answered)
	assert.Equal(t, st.Turns, st.Answered+st.Unrecognized+st.TimedOut)
	assert.Equal(t, st.Answered+st.PendingCounted, st.VoiceToVoice.N)
	assert.Positive(t, st.VoiceToVoice.P50)
	assert.LessOrEqual(t, st.VoiceToVoice.P50, st.VoiceToVoice.P90)
	assert.LessOrEqual(t, st.VoiceToVoice.P90, st.VoiceToVoice.P99)
	assert.Positive(t, st.ServerVoiceToVoice.N, "the server's voice_to_voice_ms came over the data channel")
	assert.Positive(t, st.ServerFrames)
	assert.Positive(t, st.ClientFrames)
	assert.GreaterOrEqual(t, len(llm.Requests()), st.Answered)
	assert.Zero(t, st.ServerErrors)
	var out strings.Builder
	require.NoError(t, rep.WriteTable(&out))
	t.Log("\n" + out.String())
}
