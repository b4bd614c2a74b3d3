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
	// received (answered turns).
	v2v time.Duration
	// serverV2V is the server's own voice_to_voice_ms (0: not reported).
	serverV2V time.Duration
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
	serverErrors atomic.Int64

	mu       sync.Mutex
	turns    []turnRecord
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
	clientFrames, clientLate, serverFrames, serverLate, serverErrors int64
}

func (c *collector) counts() counts {
	return counts{
		clientFrames: c.clientFrames.Load(), clientLate: c.clientLate.Load(),
		serverFrames: c.serverFrames.Load(), serverLate: c.serverLate.Load(),
		serverErrors: c.serverErrors.Load(),
	}
}

// windowData is what happened in [from, to).
type windowData struct {
	turns    []turnRecord
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
// (which opens and may time it out) and its reader (which answers it).
type turnState struct {
	mu         sync.Mutex
	open       bool
	speechEnd  time.Time
	firstAudio time.Time
}

// ask opens a question whose audio ended at end.
func (s *turnState) ask(end time.Time) {
	s.mu.Lock()
	s.open, s.speechEnd, s.firstAudio = true, end, time.Time{}
	s.mu.Unlock()
}

// audio notes an agent audio frame received at t.
func (s *turnState) audio(t time.Time) {
	s.mu.Lock()
	if s.open && s.firstAudio.IsZero() {
		s.firstAudio = t
	}
	s.mu.Unlock()
}

// end closes the open question (false if none was open).
func (s *turnState) end(at time.Time, outcome turnOutcome, serverV2V time.Duration) (turnRecord, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.open {
		return turnRecord{}, false
	}
	s.open = false
	r := turnRecord{at: at, outcome: outcome, serverV2V: serverV2V}
	if outcome == answered {
		if s.firstAudio.IsZero() {
			r.outcome = timedOut // a reply without audio is no answer to a caller
		} else {
			r.v2v = s.firstAudio.Sub(s.speechEnd)
		}
	}
	return r, true
}

// isOpen reports whether a question is open and since when.
func (s *turnState) isOpen() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.speechEnd, s.open
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
