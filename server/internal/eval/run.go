package eval

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/protocol/parleyv1"
)

// Defaults of a Runner.
const (
	DefaultTurnTimeout = 30 * time.Second
	DefaultGap         = 800 * time.Millisecond
)

// Runner runs scenarios against one server.
type Runner struct {
	// URL is the server's base URL (http, https, ws or wss).
	URL string
	// Token is sent as Authorization: Bearer when set.
	Token string
	// Speaker voices `say` turns; nil is fine when there are none.
	Speaker Speaker
	// TurnTimeout bounds the wait for each reply (DefaultTurnTimeout).
	TurnTimeout time.Duration
	// Gap is the silence between a reply's end and the next turn
	// (DefaultGap).
	Gap time.Duration
	// Progress, when set, gets one line per scenario as it ends.
	Progress io.Writer
}

// ErrBadURL is returned for a URL that is not http(s) or ws(s).
var ErrBadURL = parleyv1.ErrBadURL

// Run runs the scenarios one after another, each in its own session, and
// reports them all. An error means none could run (a bad URL, a failed
// TTS); a scenario that fails is in the report.
func (r *Runner) Run(ctx context.Context, scenarios []*Scenario) (*Report, error) {
	wsURL, err := parleyv1.VoiceURL(r.URL)
	if err != nil {
		return nil, err
	}
	for _, sc := range scenarios {
		if err := sc.speak(ctx, r.Speaker); err != nil {
			return nil, fmt.Errorf("eval: %s: %w", sc.Name, err)
		}
	}
	rep := &Report{}
	start := time.Now()
	for _, sc := range scenarios {
		res := r.runScenario(ctx, wsURL, sc)
		rep.add(res)
		if r.Progress != nil {
			_, _ = fmt.Fprintln(r.Progress, res.line())
		}
		if ctx.Err() != nil {
			break
		}
	}
	rep.DurationMS = ms(time.Since(start))
	return rep, nil
}

func (r *Runner) timeout() time.Duration {
	if r.TurnTimeout > 0 {
		return r.TurnTimeout
	}
	return DefaultTurnTimeout
}

func (r *Runner) gap() time.Duration {
	if r.Gap > 0 {
		return r.Gap
	}
	return DefaultGap
}

func (r *Runner) runScenario(parent context.Context, wsURL string, sc *Scenario) ScenarioResult {
	start := time.Now()
	res := ScenarioResult{Name: sc.Name, File: sc.File}
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	conn, err := dial(ctx, wsURL, r.Token, r.timeout())
	if err != nil {
		res.Error = err.Error()
		return res.finish(start)
	}
	defer func() { _ = conn.CloseNow() }()
	c := &conv{
		sc: sc, conn: conn, cur: -1, audioTo: -1, owner: map[string]int{},
		in: make(chan incoming, 256), spoke: make(chan spoke, len(sc.Turns)),
	}
	for i := range sc.Turns {
		c.turns = append(c.turns, &turnState{turn: &sc.Turns[i], TurnResult: TurnResult{Index: i, Input: sc.Turns[i].input()}})
	}
	if err := c.open(ctx, r.timeout()); err != nil {
		res.Error = err.Error()
		return res.finish(start)
	}
	err = r.converse(ctx, c)
	if err != nil && !endedNormally(err) {
		res.Error = err.Error()
	}
	for _, ts := range c.turns {
		ts.Reply = strings.TrimSpace(strings.Join(ts.replies, " "))
		if ts.started && !ts.firstAudioAt.IsZero() && !ts.speechEndAt.IsZero() {
			v := ms(ts.firstAudioAt.Sub(ts.speechEndAt))
			ts.ClientVoiceToVoiceMS = &v
		}
		ts.Failures = check(ts)
		res.Turns = append(res.Turns, ts.TurnResult)
	}
	_ = conn.Close(websocket.StatusNormalClosure, "eval done")
	return res.finish(start)
}

// converse plays the turns: each after the previous reply and a gap, or
// over it after its interrupt_after of audio.
func (r *Runner) converse(ctx context.Context, c *conv) error {
	for i, ts := range c.turns {
		if i > 0 {
			prev := c.turns[i-1]
			if ia := time.Duration(ts.turn.InterruptAfter); ia > 0 {
				ok, err := c.waitFor(ctx, r.wait(prev), func() bool { return prev.audio >= ia || prev.terminal })
				if err != nil {
					return err
				}
				switch {
				case !ok:
					ts.Notes = append(ts.Notes, fmt.Sprintf("no reply to interrupt: turn %d sent %s of audio in time", i-1, prev.audio.Round(time.Millisecond)))
				case prev.audio < ia:
					ts.Notes = append(ts.Notes, fmt.Sprintf("the reply of turn %d ended after %s of audio, before interrupt_after", i-1, prev.audio.Round(time.Millisecond)))
				}
			} else {
				if _, err := c.waitFor(ctx, r.wait(prev), func() bool { return prev.complete }); err != nil {
					return err
				}
				if err := c.settle(ctx, r.gap()); err != nil {
					return err
				}
			}
		}
		if err := c.start(ctx, i); err != nil {
			return err
		}
	}
	last := c.turns[len(c.turns)-1]
	if _, err := c.waitFor(ctx, r.wait(last), func() bool { return last.complete }); err != nil {
		return err
	}
	return c.settle(ctx, r.gap())
}

// wait is how long a turn's reply may take from now: its speech still
// to send, then the turn timeout.
func (r *Runner) wait(ts *turnState) time.Duration {
	d := r.timeout()
	if t := ts.turn.Timeout; t > 0 {
		d = time.Duration(t)
	}
	if ts.turn.spoken() {
		speech := time.Duration(len(ts.turn.audio)) * time.Second / audio.SampleRate
		if left := speech - time.Since(ts.startedAt); left > 0 {
			d += left
		}
	}
	return d
}

// endedNormally reports whether the server closed the session on purpose
// (the end_session tool).
func endedNormally(err error) bool {
	return websocket.CloseStatus(err) == websocket.StatusNormalClosure
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }
