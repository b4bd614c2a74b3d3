// Package loadtest is `parley loadtest`: simulated callers on /ws/voice
// or WebRTC that speak a question at real time, wait for the agent's answer, pause,
// and ask again, while it measures voice-to-voice latency, late frames on
// both sides and the CPU and memory of the client and of chosen processes
// (the server, its plugins). A run holds N callers for a duration; a ramp
// adds callers step by step until a threshold is crossed and reports the
// knee. Both are bounded (Config's hard limits) and refuse non-loopback
// targets unless told otherwise.
package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"golang.org/x/sync/errgroup"
)

// Engine timing.
const (
	// progressEvery is how often the progress line is redrawn.
	progressEvery = time.Second
	// stopGrace is how long callers get to hang up before they are cut off.
	stopGrace = 10 * time.Second
)

// procRoot is where process statistics are read.
const procRoot = "/proc"

// Mode names.
const (
	ModeRun  = "run"
	ModeRamp = "ramp"
)

// Run performs the load test cfg (validated here) and returns its report;
// progress (may be nil) gets a one-line progress indicator, redrawn with
// a carriage return. Cancelling ctx ends the test early, with a report of
// what was measured. The error is for a test that could not run (bad
// configuration, refused target, missing process); failed sessions and
// crossed thresholds are in the report.
func Run(ctx context.Context, cfg Config, progress io.Writer) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := CheckTarget(ctx, cfg.URL, cfg.AllowRemote, net.DefaultResolver); err != nil {
		return nil, err
	}
	tr, fr, err := newTransport(&cfg)
	if err != nil {
		return nil, err
	}
	if progress == nil {
		progress = io.Discard
	}
	e := &engine{cfg: &cfg, tr: tr, frames: &fr, col: &collector{}, progress: progress, stop: make(chan struct{})}
	base, err := e.sampleProcs()
	if err != nil {
		return nil, err
	}
	e.baseRSS = base.rssTotal()
	callerCtx, cancelCallers := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelCallers()
	var gctx context.Context
	e.g, gctx = errgroup.WithContext(callerCtx)
	rep := &Report{
		Mode: ModeRun, URL: cfg.URL, Transport: cfg.Transport,
		SpeechSeconds: float64(len(cfg.Speech)) / float64(samplesPerMS) / 1e3,
		GapSeconds:    cfg.Gap.Seconds(), StaggerSeconds: cfg.Stagger.Seconds(),
		MaxP99MS: ms(cfg.MaxP99), MaxLate: cfg.MaxLate,
	}
	if cfg.Ramp {
		rep.Mode = ModeRamp
		e.ramp(ctx, gctx, rep)
	} else {
		e.add(gctx, cfg.Sessions)
		st := e.window(ctx, cfg.Duration, cfg.Sessions)
		rep.Steps = append(rep.Steps, st)
	}
	fmt.Fprint(progress, "\r\033[K")
	close(e.stop)
	e.finish(cancelCallers)
	if !cfg.Ramp {
		// A run's sessions are judged over their whole life, hang-up included.
		st := &rep.Steps[0]
		e.col.mu.Lock()
		st.SessionsFailed, st.SessionsOK = len(e.col.failures), e.col.started-len(e.col.failures)
		st.Failures = failureMessages(e.col.failures)
		e.col.mu.Unlock()
		st.Crossed = e.crossed(st)
		rep.OK = len(st.Crossed) == 0
		rep.StopReason = "duration"
		if ctx.Err() != nil {
			rep.OK, rep.StopReason = false, "interrupted"
		}
	}
	return rep, nil
}

// engine runs callers and measures windows.
type engine struct {
	cfg      *Config
	tr       transport
	frames   *frames
	col      *collector
	progress io.Writer
	stop     chan struct{}
	g        *errgroup.Group
	baseRSS  int64
}

// add starts n callers in ctx (the callers' group context), the i-th after i×Stagger. A caller's failure is
// recorded, not returned: the others go on.
func (e *engine) add(ctx context.Context, n int) {
	for i := range n {
		delay := time.Duration(i) * e.cfg.Stagger
		e.g.Go(func() error {
			if delay > 0 {
				t := time.NewTimer(delay)
				defer t.Stop()
				select {
				case <-t.C:
				case <-e.stop:
					return nil
				case <-ctx.Done():
					return nil
				}
			}
			c := &caller{cfg: e.cfg, tr: e.tr, frames: e.frames, col: e.col}
			_ = c.run(ctx, e.stop)
			return nil
		})
	}
}

// finish waits for the callers to hang up, cutting them off after stopGrace.
func (e *engine) finish(cancel context.CancelFunc) {
	done := make(chan struct{})
	go func() {
		_ = e.g.Wait()
		close(done)
	}()
	t := time.NewTimer(stopGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		cancel()
		<-done
	}
}

// ramp runs steps of growing size until a threshold is crossed, the next
// step would exceed MaxSessions, or ctx ends.
func (e *engine) ramp(ctx, callers context.Context, rep *Report) {
	n := e.cfg.Sessions
	e.add(callers, n)
	for {
		st := e.window(ctx, e.cfg.StepDuration, n)
		st.SessionsOK = st.Live
		st.Crossed = e.crossed(&st)
		rep.Steps = append(rep.Steps, st)
		switch {
		case ctx.Err() != nil:
			rep.StopReason = "interrupted"
			return
		case len(st.Crossed) > 0:
			rep.StopReason = "threshold"
			rep.OK = rep.Knee > 0
			return
		case n+e.cfg.Step > e.cfg.MaxSessions:
			rep.Knee = n
			rep.StopReason = "max-sessions"
			rep.OK = true
			return
		}
		rep.Knee = n
		e.add(callers, e.cfg.Step)
		n += e.cfg.Step
	}
}

// window measures d (or until ctx ends) with `sessions` callers planned.
func (e *engine) window(ctx context.Context, d time.Duration, sessions int) Step {
	start := time.Now()
	c0 := e.col.counts()
	p0, err0 := e.sampleProcs()
	timer := time.NewTimer(d)
	defer timer.Stop()
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	for waiting := true; waiting; {
		select {
		case <-ctx.Done():
			waiting = false
		case <-timer.C:
			waiting = false
		case now := <-tick.C:
			e.drawProgress(now.Sub(start), d, sessions)
		}
	}
	end := time.Now()
	c1 := e.col.counts()
	p1, err1 := e.sampleProcs()
	w := e.col.window(start, end)
	st := Step{
		Sessions: sessions, Seconds: end.Sub(start).Seconds(), Live: w.live,
		SessionsFailed: len(w.failures), Failures: failureMessages(w.failures),
		ClientFrames: c1.clientFrames - c0.clientFrames, ClientLate: c1.clientLate - c0.clientLate,
		ServerFrames: c1.serverFrames - c0.serverFrames, ServerLate: c1.serverLate - c0.serverLate,
		ServerGaps:   c1.serverGaps - c0.serverGaps,
		ServerErrors: c1.serverErrors - c0.serverErrors,
	}
	var v2v []time.Duration
	var longest time.Duration
	for _, t := range w.turns {
		st.Turns++
		switch t.outcome {
		case answered:
			st.Answered++
			v2v = append(v2v, t.v2v)
			longest = max(longest, t.v2v)
		case unrecognized:
			st.Unrecognized++
		case timedOut:
			st.TimedOut++
		}
	}
	// A question still waiting at the end of the window whose wait already
	// exceeds every answered turn belongs in the tail: it counts as that
	// wait (a lower bound of its voice-to-voice). Shorter waits are unknown.
	for _, p := range w.pending {
		st.Pending++
		if p > longest {
			v2v = append(v2v, p)
			st.PendingCounted++
		}
	}
	st.VoiceToVoice, st.ServerVoiceToVoice = summarise(v2v), summarise(w.server)
	if frames := st.ClientFrames + st.ServerFrames; frames > 0 {
		st.LateFraction = float64(st.ClientLate+st.ServerLate) / float64(frames)
	}
	switch {
	case err0 != nil:
		st.ProcError = err0.Error()
	case err1 != nil:
		st.ProcError = err1.Error()
	default:
		e.procFigures(&st, p0, p1, end.Sub(start))
	}
	return st
}

// procReading is one sample of the client (pid 0) and every --pid.
type procReading map[int]procSample

func (r procReading) rssTotal() int64 {
	var sum int64
	for pid, s := range r {
		if pid != 0 {
			sum += s.rss
		}
	}
	return sum
}

func (e *engine) sampleProcs() (procReading, error) {
	out := procReading{}
	for _, pid := range append([]int{0}, e.cfg.PIDs...) {
		s, err := readProc(procRoot, pid)
		if err != nil {
			return nil, err
		}
		out[pid] = s
	}
	return out, nil
}

func (e *engine) procFigures(st *Step, p0, p1 procReading, wall time.Duration) {
	st.ClientCPU = cpuPercent(p0[0], p1[0], wall)
	if len(e.cfg.PIDs) == 0 {
		return
	}
	var cpu float64
	for _, pid := range e.cfg.PIDs {
		pc := cpuPercent(p0[pid], p1[pid], wall)
		cpu += pc
		st.Processes = append(st.Processes, Process{PID: pid, CPU: pc, RSS: p1[pid].rss})
	}
	st.CPU = cpu
	st.RSS = p1.rssTotal()
	if st.Live > 0 {
		st.CPUPerSession = cpu / float64(st.Live)
		st.RSSPerSession = (st.RSS - e.baseRSS) / int64(st.Live)
	}
}

// crossed lists the thresholds a window crossed.
func (e *engine) crossed(st *Step) []string {
	var out []string
	if st.SessionsFailed > 0 {
		out = append(out, fmt.Sprintf("%d sessions failed", st.SessionsFailed))
	}
	if e.cfg.MaxP99 > 0 && st.VoiceToVoice.P99 > ms(e.cfg.MaxP99) {
		out = append(out, fmt.Sprintf("voice-to-voice p99 %.0f ms > %s", st.VoiceToVoice.P99, e.cfg.MaxP99))
	}
	if e.cfg.MaxLate >= 0 && st.LateFraction > e.cfg.MaxLate {
		out = append(out, fmt.Sprintf("late frames %.2f%% > %.2f%%", 100*st.LateFraction, 100*e.cfg.MaxLate))
	}
	if st.Answered == 0 {
		out = append(out, "no turn answered")
	}
	return out
}

func (e *engine) drawProgress(elapsed, d time.Duration, sessions int) {
	now := time.Now()
	w := e.col.window(time.Time{}, now)
	answeredTurns := 0
	for _, t := range w.turns {
		if t.outcome == answered {
			answeredTurns++
		}
	}
	fmt.Fprintf(e.progress, "\r\033[Kloadtest: %d/%d sessions live, %d failed, %d turns (%d answered), %s/%s",
		w.live, sessions, len(w.failures), len(w.turns), answeredTurns,
		elapsed.Truncate(time.Second), d.Truncate(time.Second))
}

// maxFailureMessages bounds the distinct failure messages kept per window.
const maxFailureMessages = 5

func failureMessages(fs []failure) []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range fs {
		var m string
		if f.err != nil {
			m = f.err.Error()
		}
		if errors.Is(f.err, context.Canceled) {
			m = "cut off after the run ended"
		}
		if !seen[m] && len(out) < maxFailureMessages {
			seen[m] = true
			out = append(out, m)
		}
	}
	return out
}
