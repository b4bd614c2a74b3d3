package loadtest

import (
	"sync"
	"sync/atomic"
	"time"
)

// turnOutcome is how a question ended.
type turnOutcome int

const (
	// answered: agent audio came back.
	answered turnOutcome = iota
	// unrecognized: the server's final transcript was empty, so no reply comes.
	unrecognized
	// timedOut: no answer within Config.TurnTimeout (or the reply had no audio).
	timedOut
)

// turnRecord is one question that ended.
type turnRecord struct {
	at      time.Time
	outcome turnOutcome
	// v2v is end of the question's audio sent → first agent audio frame
	// received (answered turns, recorded at that frame).
	v2v time.Duration
}

// sample is a server-reported latency and when it came.
type sample struct {
	at time.Time
	d  time.Duration
}

// failure is a session that ended before it was told to.
type failure struct {
	at  time.Time
	err error
}

// collector gathers what every caller measured.
type collector struct {
	clientFrames atomic.Int64
	clientLate   atomic.Int64
	serverFrames atomic.Int64
	serverLate   atomic.Int64
	serverGaps   atomic.Int64
	serverErrors atomic.Int64

	mu       sync.Mutex
	turns    []turnRecord
	server   []sample
	failures []failure
	started  int
	live     int
	waiting  []*turnState
}

func (c *collector) addTurn(r turnRecord) {
	c.mu.Lock()
	c.turns = append(c.turns, r)
	c.mu.Unlock()
}

// addServerV2V records the server's voice_to_voice_ms of a reply.
func (c *collector) addServerV2V(at time.Time, d time.Duration) {
	c.mu.Lock()
	c.server = append(c.server, sample{at: at, d: d})
	c.mu.Unlock()
}

// sessionUp registers a connected caller and its turn state.
func (c *collector) sessionUp(st *turnState) {
	c.mu.Lock()
	c.started++
	c.live++
	c.waiting = append(c.waiting, st)
	c.mu.Unlock()
}

// sessionDown records the end of a connected caller (err nil: told to stop).
func (c *collector) sessionDown(st *turnState, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.live--
	for i, w := range c.waiting {
		if w == st {
			c.waiting = append(c.waiting[:i], c.waiting[i+1:]...)
			break
		}
	}
	if err != nil {
		c.failures = append(c.failures, failure{at: time.Now(), err: err})
	}
}

// sessionFailed records a caller that never connected.
func (c *collector) sessionFailed(err error) {
	c.mu.Lock()
	c.started++
	c.failures = append(c.failures, failure{at: time.Now(), err: err})
	c.mu.Unlock()
}

// counts is a snapshot of the frame counters.
type counts struct {
	clientFrames, clientLate, serverFrames, serverLate, serverGaps, serverErrors int64
}

func (c *collector) counts() counts {
	return counts{
		clientFrames: c.clientFrames.Load(), clientLate: c.clientLate.Load(),
		serverFrames: c.serverFrames.Load(), serverLate: c.serverLate.Load(),
		serverGaps:   c.serverGaps.Load(),
		serverErrors: c.serverErrors.Load(),
	}
}

// windowData is what happened in [from, to).
type windowData struct {
	turns    []turnRecord
	server   []time.Duration
	failures []failure
	live     int
	started  int
	// pending are the waits, at `to`, of questions not answered yet.
	pending []time.Duration
}

func (c *collector) window(from, to time.Time) windowData {
	c.mu.Lock()
	defer c.mu.Unlock()
	var w windowData
	for _, t := range c.turns {
		if !t.at.Before(from) && t.at.Before(to) {
			w.turns = append(w.turns, t)
		}
	}
	for _, v := range c.server {
		if !v.at.Before(from) && v.at.Before(to) {
			w.server = append(w.server, v.d)
		}
	}
	for _, f := range c.failures {
		if !f.at.Before(from) && f.at.Before(to) {
			w.failures = append(w.failures, f)
		}
	}
	for _, st := range c.waiting {
		if d, ok := st.waitingFor(to); ok {
			w.pending = append(w.pending, d)
		}
	}
	w.live, w.started = c.live, c.started
	return w
}

// turnState is the question a caller is waiting on, shared by its sender
// (which opens it and may give up on it) and its reader (which sees the
// answer arrive and end).
type turnState struct {
	mu         sync.Mutex
	open       bool
	speechEnd  time.Time
	firstAudio time.Time
	lastAudio  time.Time
}

// ask opens a question whose audio ended at end.
func (s *turnState) ask(end time.Time) {
	s.mu.Lock()
	s.open, s.speechEnd, s.firstAudio, s.lastAudio = true, end, time.Time{}, time.Time{}
	s.mu.Unlock()
}

// audio notes an agent audio frame received at t; the first one of an
// open question answers it (the record is returned then).
func (s *turnState) audio(t time.Time) (turnRecord, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.open {
		return turnRecord{}, false
	}
	s.lastAudio = t
	if !s.firstAudio.IsZero() {
		return turnRecord{}, false
	}
	s.firstAudio = t
	return turnRecord{at: t, outcome: answered, v2v: t.Sub(s.speechEnd)}, true
}

// end closes the open question: the reply is over, or the caller gives up.
// A question no audio answered is recorded with outcome (the record is
// returned then).
func (s *turnState) end(at time.Time, outcome turnOutcome) (turnRecord, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.open {
		return turnRecord{}, false
	}
	s.open = false
	if !s.firstAudio.IsZero() {
		return turnRecord{}, false
	}
	return turnRecord{at: at, outcome: outcome}, true
}

// isOpen reports whether a question is open.
func (s *turnState) isOpen() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open
}

// stalled reports whether an open question has waited longer than timeout
// for its first agent audio, or, once answered, for more of it.
func (s *turnState) stalled(now time.Time, timeout time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	since := s.speechEnd
	if !s.lastAudio.IsZero() {
		since = s.lastAudio
	}
	return s.open && now.Sub(since) > timeout
}

// waitingFor is how long an open question without agent audio has waited at t.
func (s *turnState) waitingFor(t time.Time) (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.open || !s.firstAudio.IsZero() {
		return 0, false
	}
	return t.Sub(s.speechEnd), true
}
