package session_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/session"
	"github.com/parleyhq/parley/server/internal/session/sessiontest"
	"github.com/parleyhq/parley/server/internal/vad"
	"github.com/parleyhq/parley/server/internal/vad/silero"
	"github.com/parleyhq/parley/server/internal/vad/silero/silerotest"
)

// TestSileroSession: with the Silero engine a session hears real speech
// (flite) as one utterance, and vad.threshold_db moves Silero's enter
// probability on the dB scale (12 dB = 0.5, 18 dB = 0.75), reported back
// in session.updated.
func TestSileroSession(t *testing.T) {
	vcfg := silerotest.Config(t)
	if _, err := exec.LookPath("flite"); err != nil {
		require.NotEqual(t, "1", os.Getenv(silerotest.EnvRequire), "flite missing (Debian package flite)")
		t.Skip("flite missing (Debian package flite)")
	}
	e, err := silero.New(vcfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, e.Close()) })

	tc := newTypedVAD(t, vcfg, session.WithVADProber(func() vad.Prober { return e.NewStream() }))
	tc.do(session.Update{})
	_, up := until[session.Updated](tc, false, nil)
	assert.InDelta(t, vcfg.EnterProbability*vad.DBPerProbability, up.ThresholdDB, 1e-9, "the configured enter probability on the dB scale")
	db := 18.0
	tc.do(session.Update{VAD: &session.VADUpdate{ThresholdDB: &db}})
	_, up = until[session.Updated](tc, false, nil)
	assert.InDelta(t, 18, up.ThresholdDB, 1e-9)

	out := filepath.Join(t.TempDir(), "q.wav")
	require.NoError(t, exec.Command("flite", "-voice", "slt", "-t", "what time is it", "-o", out).Run())
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	p, err := audio.ReadWAV(bytes.NewReader(b))
	require.NoError(t, err)
	speechLen := p.Duration()
	var samples []int16
	samples = append(samples, sessiontest.Silence(time.Second, audio.SampleRate)...)
	samples = append(samples, p.Samples...)
	samples = append(samples, sessiontest.Silence(1500*time.Millisecond, audio.SampleRate)...)
	tc.audio(samples)
	_, started := until[session.SpeechStarted](tc, false, nil)
	assert.InDelta(t, time.Second, started.Audio, float64(250*time.Millisecond), "onset")
	seen, stopped := until[session.SpeechStopped](tc, false, nil)
	assert.InDelta(t, time.Second+speechLen, stopped.Audio, float64(300*time.Millisecond), "end of speech")
	for _, v := range seen {
		_, again := v.(session.SpeechStarted)
		assert.False(t, again, "one utterance")
	}
}

// newTypedVAD is newTyped with a VAD configuration and options of the
// test's own.
func newTypedVAD(t *testing.T, vcfg config.VAD, opts ...session.Option) *typed {
	t.Helper()
	clock := sessiontest.NewManualClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	cfg := config.Session{
		SystemPrompt: "You are a test agent.", Voice: "slt", Language: "en", OutputSampleRate: 16000,
		InterruptAfter: 300 * time.Millisecond, MaxToolRounds: 3, ClientToolTimeout: 10 * time.Second,
		MaxHistory: 50, OutputLookahead: 100 * time.Millisecond,
	}
	plugins := session.Plugins{STT: &sessiontest.STT{}, LLM: &sessiontest.LLM{}, TTS: &sessiontest.TTS{WordDuration: 200 * time.Millisecond}}
	mgr, err := session.NewManager(cfg, vcfg, config.Tools{}, plugins, nil, prometheus.NewRegistry(), slog.New(slog.DiscardHandler),
		append([]session.Option{session.WithClock(clock)}, opts...)...)
	require.NoError(t, err)
	res, err := mgr.Reserve("127.0.0.1")
	require.NoError(t, err)
	tc := &typed{t: t, clock: clock, sink: newRecSink(), mgr: mgr}
	tc.sess, err = mgr.Start(context.Background(), res, session.StartParams{Sink: tc.sink})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		require.NoError(t, mgr.Drain(ctx))
	})
	return tc
}
