package recording_test

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/protocol/parleyv1"
	"github.com/parleyhq/parley/server/internal/recording"
	"github.com/parleyhq/parley/server/internal/session"
	"github.com/parleyhq/parley/server/internal/session/sessiontest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitFor bounds every wait of these tests.
const waitFor = 10 * time.Second

// frameSamples is one 20 ms frame at 16 kHz.
const frameSamples = audio.SampleRate / 50

// rxFrame is a frame the client received, at the session clock's time.
type rxFrame struct {
	at  time.Time
	pcm []int16
}

// client is the transport's Sink: it keeps what it was sent.
type client struct {
	clock  *sessiontest.ManualClock
	mu     sync.Mutex
	frames []rxFrame
	events chan session.Event
}

func (c *client) Event(ev session.Event) error {
	select {
	case c.events <- ev:
	default:
	}
	return nil
}

func (c *client) Audio(pcm []byte) error {
	s, err := audio.DecodePCM16LE(nil, pcm)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.frames = append(c.frames, rxFrame{at: c.clock.Now(), pcm: s})
	c.mu.Unlock()
	return nil
}

func (c *client) Close(session.EndReason, string) {}

func (c *client) received() []rxFrame {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]rxFrame(nil), c.frames...)
}

// call is one session recorded into a temporary directory, driven by a
// manual clock: the test's microphone is the clock.
type call struct {
	t     *testing.T
	dir   string
	clock *sessiontest.ManualClock
	store *recording.Store
	reg   *prometheus.Registry
	mgr   *session.Manager
	sess  *session.Session
	cl    *client
	start time.Time
	ended bool
}

type callOpts struct {
	reply    string
	record   *bool
	id       session.SessionID
	setup    func(dir string)
	tweak    func(*recording.Store)
	disabled bool
	// lookahead is session.output_lookahead (default 500 ms: the pacer,
	// scheduled on a busy machine, keeps ahead of the test's clock).
	lookahead time.Duration
}

func newCall(t *testing.T, o callOpts) *call {
	t.Helper()
	c := &call{t: t, dir: t.TempDir(), clock: sessiontest.NewManualClock(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)), reg: prometheus.NewRegistry()}
	if o.setup != nil {
		o.setup(c.dir)
	}
	log := slog.New(slog.DiscardHandler)
	var err error
	c.store, err = recording.New(config.Recording{Enabled: true, Dir: c.dir, Default: config.RecordOptOut, QueueFrames: 4096},
		parleyv1.Encode, c.reg, log)
	require.NoError(t, err)
	if o.tweak != nil {
		o.tweak(c.store)
	}
	reply := o.reply
	if reply == "" {
		reply = "one two three four five six"
	}
	llm := &sessiontest.LLM{Reply: func(sdk.GenerateRequest) ([]sdk.GenerateEvent, error) {
		return sessiontest.Text(reply), nil
	}}
	cfg := config.Session{
		SystemPrompt: "test", Voice: "slt", Language: "en", OutputSampleRate: audio.SampleRate,
		InterruptAfter: 300 * time.Millisecond, MaxToolRounds: 1, ClientToolTimeout: time.Second,
		MaxHistory: 50, OutputLookahead: o.lookahead,
	}
	if cfg.OutputLookahead == 0 {
		cfg.OutputLookahead = 500 * time.Millisecond
	}
	opts := []session.Option{session.WithClock(c.clock)}
	if !o.disabled {
		opts = append(opts, session.WithRecorder(c.store, true))
	}
	c.mgr, err = session.NewManager(cfg, testVAD(), config.Tools{},
		session.Plugins{STT: &sessiontest.STT{Transcripts: []string{"stop please"}}, LLM: llm, TTS: &sessiontest.TTS{WordDuration: 200 * time.Millisecond}},
		nil, c.reg, log, opts...)
	require.NoError(t, err)
	res, err := c.mgr.Reserve("127.0.0.1")
	require.NoError(t, err)
	c.cl = &client{clock: c.clock, events: make(chan session.Event, 4096)}
	c.start = c.clock.Now()
	c.sess, err = c.mgr.Start(context.Background(), res, session.StartParams{Sink: c.cl, SessionID: o.id, Record: o.record})
	require.NoError(t, err)
	t.Cleanup(c.end)
	return c
}

func testVAD() config.VAD {
	return config.VAD{
		MinSpeech: 100 * time.Millisecond, MinSilence: 300 * time.Millisecond, PreRoll: 200 * time.Millisecond,
		MaxUtterance: 3 * time.Second, MinSilenceMin: 100 * time.Millisecond, MinSilenceMax: 2 * time.Second,
		ThresholdMin: 6, ThresholdMax: 24, MinSpeechMin: 60 * time.Millisecond, MinSpeechMax: 500 * time.Millisecond,
	}
}

// end hangs up and waits until the recording is written.
func (c *call) end() {
	if c.ended {
		return
	}
	c.ended = true
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	c.sess.Close(session.EndNormal, "client left")
	require.NoError(c.t, c.mgr.Drain(ctx))
	require.NoError(c.t, c.store.Wait(ctx))
}

// speak sends samples at real time on the session clock: each 20 ms frame,
// once the session has taken it, moves the clock by 20 ms. A frame's
// audio is the 20 ms before it was sent, as from a microphone.
func (c *call) speak(samples []int16) {
	c.t.Helper()
	ctx := context.Background()
	for _, f := range sessiontest.Frames(sessiontest.PCM(samples), audio.SampleRate) {
		c.clock.Advance(audio.FrameDuration)
		require.NoError(c.t, c.sess.HandleAudio(ctx, f))
		c.sess.History(ctx) // the session has taken the frame
	}
}

// waitEvent reads the client's events until one of type T.
func waitEvent[T session.Event](c *call) T {
	c.t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case ev := <-c.cl.events:
			if e, ok := ev.(T); ok {
				return e
			}

		case <-deadline:
			var zero T

			c.t.Fatalf("no %T event", zero)
			return zero
		}
	}
}

// talkUntil keeps the microphone (and so the clock) going with quiet
// frames until the client got an event of type T.
func talkUntil[T session.Event](c *call) T {
	c.t.Helper()
	const maxFrames = 1000 // 20 s of session time
	for range maxFrames {
		select {
		case ev := <-c.cl.events:
			if e, ok := ev.(T); ok {
				return e
			}
			continue
		default:
		}
		c.speak(sessiontest.Silence(audio.FrameDuration, audio.SampleRate))
	}
	var zero T
	c.t.Fatalf("no %T event in 20 s of session time", zero)
	return zero
}

// pos is t as a sample position on the recording.
func (c *call) pos(t time.Time) int {
	return int(int64(t.Sub(c.start)) * audio.SampleRate / int64(time.Second))
}

// played places the frames the client received where it plays them:
// back to back from the first, a frame arriving late starting when it
// arrives. It returns the track and where it starts and ends.
func (c *call) played(n int) (track []int16, first, end int) {
	track = make([]int16, n)
	first = -1
	for _, f := range c.cl.received() {
		s := max(c.pos(f.at), end)
		if first < 0 {
			first = s
		}
		if s+len(f.pcm) <= n {
			copy(track[s:], f.pcm)
		}
		end = s + len(f.pcm)
	}
	return track, first, end
}

// bestLag is the lag (samples, within ±maxLag) at which sig matches ref
// best, ref being expected at sig[off:].
func bestLag(ref, sig []int16, off, maxLag int) int {
	best, bestScore := 0, math.Inf(-1)
	for lag := -maxLag; lag <= maxLag; lag++ {
		var sum, energy float64
		for i, r := range ref {
			j := off + lag + i
			if j < 0 || j >= len(sig) {
				continue
			}
			s := float64(sig[j])
			sum += float64(r) * s
			energy += s * s
		}
		if energy == 0 {
			continue
		}
		if score := sum / math.Sqrt(energy); score > bestScore {
			best, bestScore = lag, score
		}
	}
	return best
}

// chirp is a 300 Hz → 3 kHz sweep: it matches itself at one lag only.
func chirp(d time.Duration) []int16 {
	n := int(d * audio.SampleRate / time.Second)
	out := make([]int16, n)
	const f0, f1, amp = 300.0, 3000.0, 9000.0
	sec := d.Seconds()
	for i := range out {
		t := float64(i) / audio.SampleRate
		out[i] = int16(amp * math.Sin(2*math.Pi*(f0*t+(f1-f0)*t*t/(2*sec))))
	}
	return out
}

// logLines reads the event log's lines.
func logLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), "line %q", sc.Text())
		out = append(out, m)
	}
	require.NoError(t, sc.Err())
	return out
}

// eventAt returns the ms of the first logged event of type typ (-1: none).
func eventAt(lines []map[string]any, typ string) float64 {
	for _, l := range lines {
		if ev, ok := l["event"].(map[string]any); ok && ev["type"] == typ {
			return l["ms"].(float64)
		}
	}
	return -1
}

func msPos(ms float64) int { return int(ms * audio.SampleRate / 1000) }

func TestStereoAlignment(t *testing.T) {
	c := newCall(t, callOpts{lookahead: 2 * time.Second})
	quiet := sessiontest.Silence(500*time.Millisecond, audio.SampleRate)
	c.speak(quiet)
	sentAt := c.clock.Now() // the chirp's first frame covers the 20 ms after this
	sent := chirp(time.Second)
	c.speak(sent)
	// The chirp is a turn (the energy VAD takes it for speech); the
	// agent answers it with six words of 200 ms. With a look-ahead longer
	// than the reply the pacer sends it all at once: the clock stands
	// still until it is out, so the client and the recorder stamp every
	// frame alike.
	talkUntil[session.AudioStarted](c)
	const replyFrames = 6 * 200 / 20
	require.Eventually(t, func() bool { return len(c.cl.received()) >= replyFrames }, waitFor, time.Millisecond)
	talkUntil[session.ResponseDone](c)
	c.end()

	rep, err := recording.Load(c.dir, c.sess.ID())
	require.NoError(t, err)
	require.True(t, rep.Ended)
	require.Len(t, rep.Agent, len(rep.User))

	lag := bestLag(sent, rep.User, c.pos(sentAt), 3*frameSamples)
	assert.LessOrEqual(t, abs(lag), frameSamples, "user channel lag %d samples", lag)
	assert.Equal(t, 0, lag, "the user channel is where the audio was sent")

	// talkUntil moves the clock while it waits for AudioStarted, so the
	// client may stamp the first frame one step (20 ms) after the recorder
	// did: the track may run a frame past the recording (seen in CI), which
	// the one-frame lag bound below allows. Compare where both have audio.
	track, first, end := c.played(len(rep.Agent) + frameSamples)
	require.Positive(t, first, "the client got agent audio")
	require.LessOrEqual(t, end, len(track))
	end = min(end, len(rep.Agent))
	require.Greater(t, end, first)
	lag = bestLag(track[first:end], rep.Agent, first, 3*frameSamples)
	assert.LessOrEqual(t, abs(lag), frameSamples, "agent channel lag %d samples", lag)
	// And the channels do not bleed: no agent audio before the reply.
	assert.Zero(t, energy(rep.Agent[:first-frameSamples]))
}

func TestBargeInTruncatesAgentChannel(t *testing.T) {
	c := newCall(t, callOpts{reply: "this is a very long answer that goes on and on and on for a while yet"})
	c.speak(sessiontest.Silence(200*time.Millisecond, audio.SampleRate))
	require.NoError(t, c.sess.Handle(context.Background(), session.InputText{Text: "talk"}))
	talkUntil[session.AudioStarted](c)
	c.speak(sessiontest.Silence(time.Second, audio.SampleRate)) // a second of the reply
	c.speak(sessiontest.Speech(600*time.Millisecond, audio.SampleRate))
	intr := talkUntil[session.ResponseInterrupted](c)
	require.Positive(t, intr.Played)
	c.speak(sessiontest.Silence(1500*time.Millisecond, audio.SampleRate))
	c.end()

	rep, err := recording.Load(c.dir, c.sess.ID())
	require.NoError(t, err)
	wavPath, logPath := recording.Paths(c.dir, c.sess.ID())
	_ = wavPath
	lines := logLines(t, logPath)
	cutMS := eventAt(lines, "response.interrupted")
	require.Positive(t, cutMS)
	cut := msPos(cutMS)
	// The window after the cut: until the agent speaks again (the answer
	// to the interruption) or the end.
	stop := len(rep.Agent)
	for _, l := range lines {
		if ev, ok := l["event"].(map[string]any); ok && ev["type"] == "response.audio.started" && l["ms"].(float64) > cutMS {
			stop = msPos(l["ms"].(float64))
			break
		}
	}
	require.Greater(t, stop, cut+10*frameSamples, "a silent stretch after the cut to look at")
	assert.Positive(t, energy(rep.Agent[cut-5*frameSamples:cut]), "the agent was speaking up to the cut")
	assert.Zero(t, energy(rep.Agent[cut:stop]), "the agent channel is silent after the cut")
	// The client had been sent audio beyond the cut (the look-ahead): the
	// recording shows what was heard, not what was sent.
	_, _, end := c.played(len(rep.Agent) + audio.SampleRate)
	assert.Greater(t, end, cut, "frames were sent ahead of the cut")
	// The user's barge-in is on the left channel, around the cut.
	assert.Positive(t, energy(rep.User[cut-5*frameSamples:cut]))
}

func TestDiskFullMidCallFailsRecordingNotCall(t *testing.T) {
	c := newCall(t, callOpts{tweak: func(st *recording.Store) { recording.FailAfter(st, 200<<10) }})
	require.NoError(t, c.sess.Handle(context.Background(), session.InputText{Text: "talk"}))
	waitEvent[session.ResponseStarted](c)
	// Speak until the disk is full (≈3 s of stereo) and then some.
	failed := talkUntil[session.Error](c)
	assert.Equal(t, session.CodeRecordingFailed, failed.Code)
	assert.NotContains(t, failed.Message, c.dir, "no paths to the client")
	assert.InDelta(t, 1, testutil.ToFloat64(errorsMetric(t, c.reg)), 0)
	// The call goes on: a new turn is answered.
	require.NoError(t, c.sess.Handle(context.Background(), session.InputText{Text: "again"}))
	waitEvent[session.ResponseStarted](c)
	talkUntil[session.ResponseDone](c)
}

func TestUnwritableFileAtStartCallGoesOn(t *testing.T) {
	const id = session.SessionID("sess_000000000000000000000f11")
	c := newCall(t, callOpts{id: id, setup: func(dir string) {
		wav, _ := recording.Paths(dir, id)
		require.NoError(t, os.Symlink("/dev/full", wav))
	}})
	failed := waitEvent[session.Error](c)
	assert.Equal(t, session.CodeRecordingFailed, failed.Code)
	require.NoError(t, c.sess.Handle(context.Background(), session.InputText{Text: "talk"}))
	waitEvent[session.ResponseStarted](c)
	talkUntil[session.ResponseDone](c)
}

func errorsMetric(t *testing.T, reg *prometheus.Registry) prometheus.Collector {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() == "parley_recording_errors_total" {
			return counterOf(f.GetMetric()[0].GetCounter().GetValue())
		}
	}
	t.Fatal("no parley_recording_errors_total")
	return nil
}

// counterOf is a collector holding v (for testutil.ToFloat64).
func counterOf(v float64) prometheus.Collector {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "v", Help: "v"})
	c.Add(v)
	return c
}

func TestOptOutDeletesAndOptInRecords(t *testing.T) {
	off := false
	c := newCall(t, callOpts{})
	yes := true
	wav, jsonl := recording.Paths(c.dir, c.sess.ID())
	require.FileExists(t, wav)
	require.NoError(t, c.sess.Handle(context.Background(), session.Update{Recording: &off}))
	assert.False(t, waitEvent[session.Updated](c).Recording)
	require.Eventually(t, func() bool { return !exists(wav) && !exists(jsonl) }, waitFor, 10*time.Millisecond)
	require.NoError(t, c.sess.Handle(context.Background(), session.Update{Recording: &yes}))
	assert.True(t, waitEvent[session.Updated](c).Recording)
	// Out and in again at once: the new files are not the old writer's
	// to delete.
	require.NoError(t, c.sess.Handle(context.Background(), session.Update{Recording: &off}))
	require.NoError(t, c.sess.Handle(context.Background(), session.Update{Recording: &yes}))
	c.speak(sessiontest.Speech(200*time.Millisecond, audio.SampleRate))
	c.end()
	rep, err := recording.Load(c.dir, c.sess.ID())
	require.NoError(t, err)
	assert.True(t, rep.Ended)

	t.Run("token decides", func(t *testing.T) {
		c := newCall(t, callOpts{record: &off})
		require.NoError(t, c.sess.Handle(context.Background(), session.Update{Recording: &yes}))
		e := waitEvent[session.Error](c)
		assert.Equal(t, session.CodeInvalidField, e.Code)
		c.end()
		assert.False(t, exists(filepath.Join(c.dir, string(c.sess.ID())+recording.WAVExt)))
	})
	t.Run("server does not record", func(t *testing.T) {
		c := newCall(t, callOpts{disabled: true})
		require.NoError(t, c.sess.Handle(context.Background(), session.Update{Recording: &yes}))
		e := waitEvent[session.Error](c)
		assert.Equal(t, session.CodeRecordingDisabled, e.Code)
	})
}

func TestReplayTurns(t *testing.T) {
	c := newCall(t, callOpts{reply: "fine"})
	c.speak(sessiontest.Silence(300*time.Millisecond, audio.SampleRate))
	speechAt := c.pos(c.clock.Now())
	c.speak(sessiontest.Speech(800*time.Millisecond, audio.SampleRate))
	c.speak(sessiontest.Silence(600*time.Millisecond, audio.SampleRate))
	talkUntil[session.TurnEnded](c)
	talkUntil[session.ResponseDone](c)
	c.end()
	rep, err := recording.Load(c.dir, c.sess.ID())
	require.NoError(t, err)
	require.Len(t, rep.Turns, 1)
	tr := rep.Turns[0]
	assert.Equal(t, "stop please", tr.Transcript)
	startPos := int(int64(tr.Start) * audio.SampleRate / int64(time.Second))
	assert.GreaterOrEqual(t, startPos, speechAt, "speech_started comes after the onset")
	assert.Less(t, tr.Start, tr.End)
	user := rep.UserPCM(0, tr.End)
	assert.Positive(t, energy(user[speechAt:]), "the turn's speech is in the user channel")
}

func TestSweep(t *testing.T) {
	dir := t.TempDir()
	st, err := recording.New(config.Recording{Dir: dir, Retention: time.Hour, QueueFrames: 8}, parleyv1.Encode, nil, nil)
	require.NoError(t, err)
	now := time.Now()
	for name, age := range map[string]time.Duration{"old.wav": 2 * time.Hour, "old.jsonl": 2 * time.Hour, "new.wav": time.Minute, "other.txt": 3 * time.Hour} {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte("x"), 0o600))
		require.NoError(t, os.Chtimes(p, now.Add(-age), now.Add(-age)))
	}
	n, err := st.Sweep(now)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.False(t, exists(filepath.Join(dir, "old.wav")))
	assert.True(t, exists(filepath.Join(dir, "new.wav")))
	assert.True(t, exists(filepath.Join(dir, "other.txt")))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.NoError(t, st.Run(ctx))
}

func TestReadRejectsOtherFiles(t *testing.T) {
	var mono strings.Builder
	require.NoError(t, audio.WriteWAV(&mono, audio.PCM{Samples: make([]int16, 100), SampleRate: audio.SampleRate}))
	_, err := recording.Read(strings.NewReader(mono.String()), strings.NewReader(`{"type":"recording.started"}`))
	require.ErrorIs(t, err, recording.ErrNotRecording)
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func energy(s []int16) float64 {
	var e float64
	for _, v := range s {
		e += float64(v) * float64(v)
	}
	return e
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// FuzzRead: a damaged recording never panics Read.
func FuzzRead(f *testing.F) {
	var mono strings.Builder
	_ = audio.WriteWAV(&mono, audio.PCM{Samples: make([]int16, 10), SampleRate: audio.SampleRate})
	f.Add([]byte(mono.String()), []byte(`{"type":"recording.started"}`+"\n"+`{"ms":1,"event":{"type":"turn.ended"}}`))
	f.Add([]byte("RIFF"), []byte("{"))
	f.Fuzz(func(t *testing.T, wav, events []byte) {
		rep, err := recording.Read(strings.NewReader(string(wav)), strings.NewReader(string(events)))
		if err == nil {
			assert.Len(t, rep.Agent, len(rep.User))
		}
	})
}
