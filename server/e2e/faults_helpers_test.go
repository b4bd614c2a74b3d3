package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/audio"
)

// faultEvent is a server event with the fields the suite reads.
type faultEvent struct {
	Type      string            `json:"type"`
	Text      string            `json:"text"`
	Delta     string            `json:"delta"`
	Code      string            `json:"code"`
	Message   string            `json:"message"`
	Status    string            `json:"status"`
	Details   map[string]string `json:"details"`
	Retryable bool              `json:"retryable"`
}

// faultTurn is what one turn produced.
type faultTurn struct {
	finals []string
	done   faultEvent
	errors []faultEvent
	frames int
}

// talker is one client session of the suite.
type talker struct {
	c       *websocket.Conn
	events  chan faultEvent
	frames  chan struct{}
	readErr chan error
}

func dialTalker(ctx context.Context, addr string) (*talker, error) {
	c, _, err := websocket.Dial(ctx, "ws://"+addr+"/ws/voice", &websocket.DialOptions{Subprotocols: []string{"parley.v1"}})
	if err != nil {
		return nil, err
	}
	return startTalker(ctx, c)
}

// startTalker reads c's events and frames and sends the session.update.
func startTalker(ctx context.Context, c *websocket.Conn) (*talker, error) {
	c.SetReadLimit(1 << 20)
	tk := &talker{c: c, events: make(chan faultEvent, 4096), frames: make(chan struct{}, 1<<16), readErr: make(chan error, 1)}
	go func() {
		for {
			typ, data, err := c.Read(ctx)
			if err != nil {
				tk.readErr <- err
				return
			}
			if typ == websocket.MessageBinary {
				tk.frames <- struct{}{}
				continue
			}
			var e faultEvent
			if err := json.Unmarshal(data, &e); err != nil {
				tk.readErr <- fmt.Errorf("bad event %s: %w", data, err)
				return
			}
			tk.events <- e
		}
	}()
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"session.update","input_sample_rate":16000,"output_sample_rate":16000}`)); err != nil {
		return nil, err
	}
	return tk, nil
}

// turn speaks samples at real time and keeps the line alive with silence
// until the turn's metrics event; it never calls t.FailNow (it runs on its
// own goroutine).
func (tk *talker) turn(ctx context.Context, samples []int16) (faultTurn, error) {
	ctx, cancel := context.WithTimeout(ctx, turnLimit)
	defer cancel()
	var tr faultTurn
	silence := make([]int16, audio.FrameSamples)
	frames := (len(samples) + audio.FrameSamples - 1) / audio.FrameSamples
	tick := time.NewTicker(audio.FrameDuration)
	defer tick.Stop()
	buf := make([]byte, 0, audio.FrameBytes)
	for i := 0; ; i++ {
		chunk := silence
		if i < frames {
			chunk = samples[i*audio.FrameSamples : min((i+1)*audio.FrameSamples, len(samples))]
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
			case e := <-tk.events:
				switch e.Type {
				case "transcript.final":
					tr.finals = append(tr.finals, e.Text)
				case "error":
					tr.errors = append(tr.errors, e)
				case "response.done", "response.interrupted":
					tr.done = e
				case "metrics":
					// One reader queues frames and events in wire order,
					// but select picks between ready channels at random:
					// frames sent before this event may still be queued.
					// Unread, they were missing from this turn (and added
					// to the next) whenever the client fell behind.
					for {
						select {
						case <-tk.frames:
							tr.frames++
						default:
							return tr, nil
						}
					}
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
			return tr, fmt.Errorf("turn: %w (so far %+v)", ctx.Err(), tr)
		}
	}
}

// sessionRun is what one client session saw.
type sessionRun struct {
	turns []faultTurn
	err   error
}

// runTalkers runs n sessions of turns each, staggered, and returns what
// each saw.
func runTalkers(ctx context.Context, addr string, n, turns int, samples []int16) []sessionRun {
	runs := make([]sessionRun, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-time.After(time.Duration(i) * faultStagger):
			case <-ctx.Done():
				return
			}
			tk, err := dialTalker(ctx, addr)
			if err != nil {
				runs[i].err = err
				return
			}
			defer func() { _ = tk.c.CloseNow() }()
			for range turns {
				tr, err := tk.turn(ctx, samples)
				runs[i].turns = append(runs[i].turns, tr)
				if err != nil {
					runs[i].err = err
					return
				}
			}
			runs[i].err = tk.c.Close(websocket.StatusNormalClosure, "done")
		}()
	}
	wg.Wait()
	return runs
}

// logRecord is one JSON log line of the server.
type logRecord struct {
	Time   time.Time `json:"time"`
	Msg    string    `json:"msg"`
	Plugin string    `json:"plugin"`
	Took   string    `json:"took"`
}

func serverLog(s *server) []logRecord {
	var out []logRecord
	for _, line := range strings.Split(s.logs.String(), "\n") {
		var r logRecord
		if json.Unmarshal([]byte(line), &r) == nil && r.Msg != "" {
			out = append(out, r)
		}
	}
	return out
}

// recovery is what the server's log says about recoveries.
type recovery struct {
	// stt and tts are the took of each "stt recovered" (an utterance
	// replayed) and "tts resumed" (a reply resumed).
	stt, tts []time.Duration
	// sttAtOpen and ttsAtOpen count streams opened while every instance
	// was down (restarting), waited for; each also counts in stt or tts.
	sttAtOpen, ttsAtOpen int
	// llmReasks counts rounds asked again after an LLM stream failed
	// before anything was said.
	llmReasks int
	// restart is each plugin's down → restarted times, by instance name.
	restart map[string][]time.Duration
}

func recoveries(t *testing.T, s *server) recovery {
	t.Helper()
	rec := recovery{restart: map[string][]time.Duration{}}
	downAt := map[string][]time.Time{}
	for _, r := range serverLog(s) {
		switch r.Msg {
		case "stt recovered", "tts resumed":
			d, err := time.ParseDuration(r.Took)
			require.NoError(t, err)
			if r.Msg == "stt recovered" {
				rec.stt = append(rec.stt, d)
			} else {
				rec.tts = append(rec.tts, d)
			}
		case "no stt available at the start of an utterance, waiting for one":
			rec.sttAtOpen++
		case "no tts available at the start of a reply, waiting for one":
			rec.ttsAtOpen++
		case "llm stream failed before anything was said, asking again":
			rec.llmReasks++
		case "plugin down, restarting":
			downAt[r.Plugin] = append(downAt[r.Plugin], r.Time)
		case "plugin restarted":
			if d := downAt[r.Plugin]; len(d) > 0 {
				rec.restart[r.Plugin] = append(rec.restart[r.Plugin], r.Time.Sub(d[0]))
				downAt[r.Plugin] = d[1:]
			}
		}
	}
	return rec
}

func (rec recovery) log(t *testing.T) {
	t.Helper()
	t.Logf("recovered: stt %d utterances replayed (p50 %s, p99 %s; %d of them opened while it was down), tts %d replies resumed (p50 %s, p99 %s; %d opened while it was down), llm %d rounds asked again",
		len(rec.stt), percentile(rec.stt, 0.5), percentile(rec.stt, 0.99), rec.sttAtOpen,
		len(rec.tts), percentile(rec.tts, 0.5), percentile(rec.tts, 0.99), rec.ttsAtOpen, rec.llmReasks)
}

// percentile returns the p-th percentile (nearest rank) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p+0.999) - 1
	return s[max(0, min(i, len(s)-1))]
}

// framesHeard parses the sim STT's final "heard N frames".
func framesHeard(final string) (int, bool) {
	var n int
	if _, err := fmt.Sscanf(final, "heard %d frames", &n); err != nil {
		return 0, false
	}
	return n, true
}

// checkRuns asserts what every fault test promises of the sessions' turns:
// none dropped, each recognised exactly once and whole, each reply whole —
// or, only after an LLM died mid-reply, ended at what was said — no turn
// lost, and clean errors. It returns the counts.
func checkRuns(t *testing.T, runs []sessionRun, turnsEach int) (turns, completed, interrupted int) {
	t.Helper()
	var medians []int
	turns, completed, interrupted = 0, 0, 0
	var errs []faultEvent
	for i, r := range runs {
		require.NoError(t, r.err, "session %d dropped after %d turns", i, len(r.turns))
		require.Len(t, r.turns, turnsEach, "session %d", i)
		for _, tr := range r.turns {
			turns++
			errs = append(errs, tr.errors...)
			if len(tr.finals) == 1 {
				if n, ok := framesHeard(tr.finals[0]); ok {
					medians = append(medians, n)
				}
			}
		}
	}
	slices.Sort(medians)
	require.NotEmpty(t, medians)
	median := medians[len(medians)/2]
	for i, r := range runs {
		for j, tr := range r.turns {
			require.Len(t, tr.finals, 1, "session %d turn %d: recognised exactly once: %+v", i, j, tr)
			n, ok := framesHeard(tr.finals[0])
			require.True(t, ok, "final %q", tr.finals[0])
			assert.InDelta(t, median, n, finalTolerance, "session %d turn %d: the whole utterance was recognised (replayed after a crash)", i, j)
			want := "You said " + tr.finals[0] + ". This reply has a second sentence. And it ends with a third one."
			switch tr.done.Status {
			case "completed":
				completed++
				assert.Equal(t, want, tr.done.Text, "session %d turn %d: whole reply", i, j)
			case "failed":
				// Only an LLM that died after part was spoken may end a
				// reply early, at what was said.
				interrupted++
				require.Len(t, tr.errors, 1, "session %d turn %d", i, j)
				assert.Equal(t, "llm_interrupted", tr.errors[0].Code, "session %d turn %d: %+v", i, j, tr.errors)
				assert.True(t, strings.HasPrefix(want, tr.done.Text), "said %q is a prefix of %q", tr.done.Text, want)
			default:
				t.Errorf("session %d turn %d: no response.done: %+v", i, j, tr)
			}
			for _, e := range tr.errors {
				assert.NotContains(t, []string{"stt_failed", "tts_failed", "llm_failed"}, e.Code, "session %d turn %d: turn lost: %+v", i, j, e)
			}
		}
	}
	assertCleanErrors(t, errs)

	// Nothing said twice, nothing left out: a completed reply's audio is as
	// long as the same reply's audio in any other turn (flite is
	// deterministic), give or take the resampler's and pacer's last frame.
	byText := map[string][]int{}
	for _, r := range runs {
		for _, tr := range r.turns {
			if tr.done.Status == "completed" {
				byText[tr.done.Text] = append(byText[tr.done.Text], tr.frames)
			}
		}
	}
	maxDev := 0
	for text, fs := range byText {
		slices.Sort(fs)
		for _, f := range fs {
			maxDev = max(maxDev, f-fs[len(fs)/2], fs[len(fs)/2]-f)
			assert.InDelta(t, fs[len(fs)/2], f, audioTolerance, "reply %q: %d frames, median %d", text, f, fs[len(fs)/2])
		}
	}
	t.Logf("completed replies' audio: at most %d frames from the median of the same reply", maxDev)

	return turns, completed, interrupted
}

// assertCleanErrors fails on any client-visible error that carries a
// path, an address, a stack trace or raw provider text.
func assertCleanErrors(t *testing.T, errs []faultEvent) {
	t.Helper()
	for _, e := range errs {
		assert.NotEmpty(t, e.Code)
		assert.NotEmpty(t, e.Message)
		assert.False(t, leakPatterns.MatchString(e.Message), "error message leaks internals: %+v", e)
		for k, v := range e.Details {
			assert.False(t, leakPatterns.MatchString(v), "error detail %s leaks internals: %+v", k, e)
		}
	}
}

// pluginPIDs remembers the pid of every plugin process seen during a
// test, to check none is left once the server is gone.
type pluginPIDs struct {
	mu   sync.Mutex
	seen map[int]bool
}

// note reads the server's plugin list and returns each running plugin's
// pid by name, remembering them.
func (b *pluginPIDs) note(ctx context.Context, addr string) map[string]int {
	st := pluginStatusNoFail(ctx, addr)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.seen == nil {
		b.seen = map[int]bool{}
	}
	out := map[string]int{}
	for name, p := range st {
		if p.PID > 0 {
			b.seen[p.PID] = true
			out[name] = p.PID
		}
	}
	return out
}

// all returns every pid seen.
func (b *pluginPIDs) all() map[int]bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return maps.Clone(b.seen)
}

// kill is one scheduled SIGKILL of a plugin: at (from the schedule's
// start) of the plugin called name. With busy set, the kill first waits
// for that count of streams under way to be above zero, so that it lands
// mid-utterance or mid-reply.
type kill struct {
	at   time.Duration
	name string
	busy *atomic.Int64
}

// Kill-scheduling bounds: how often and how long a kill looks for a
// stream of its kind under way (safety nets, not timing assertions).
const (
	busyPoll  = 5 * time.Millisecond
	busyLimit = 10 * time.Second
)

// runKills SIGKILLs the plugins of schedule in its own goroutine, and
// sends the kills that happened when it is done (or ctx ended).
func runKills(ctx context.Context, addr string, pids *pluginPIDs, schedule []kill) <-chan []kill {
	killed := make(chan []kill, 1)
	go func() {
		var done []kill
		start := time.Now()
		for _, k := range schedule {
			select {
			case <-time.After(time.Until(start.Add(k.at))):
			case <-ctx.Done():
				killed <- done
				return
			}
			if k.busy != nil && !waitBusy(ctx, k.busy) {
				continue
			}
			if pid := pids.note(ctx, addr)[k.name]; pid > 0 && syscall.Kill(pid, syscall.SIGKILL) == nil {
				done = append(done, k)
			}
		}
		killed <- done
	}()
	return killed
}

// waitBusy waits until n is above zero; false if it never was within
// busyLimit or ctx ended.
func waitBusy(ctx context.Context, n *atomic.Int64) bool {
	tick := time.NewTicker(busyPoll)
	defer tick.Stop()
	limit := time.After(busyLimit)
	for n.Load() == 0 {
		select {
		case <-tick.C:
		case <-limit:
			return false
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// assertNoPluginLeft checks that no plugin process seen during the test is
// alive.
func assertNoPluginLeft(t *testing.T, pids map[int]bool) {
	t.Helper()
	keys := make([]int, 0, len(pids))
	for p := range pids {
		keys = append(keys, p)
	}
	sort.Ints(keys)
	for _, pid := range keys {
		err := syscall.Kill(pid, 0)
		assert.True(t, errors.Is(err, syscall.ESRCH), "plugin pid %d still exists after the server exited", pid)
	}
}

// pluginStatusNoFail is pluginStatus for goroutines: nil on any error.
func pluginStatusNoFail(ctx context.Context, addr string) map[string]pluginState {
	st, err := fetchPluginStatus(ctx, addr)
	if err != nil {
		return nil
	}
	return st
}
