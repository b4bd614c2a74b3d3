package session_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/session"
	"github.com/parleyhq/parley/server/internal/session/sessiontest"
)

// countingAdmitter grants up to max slots and records what happened to
// them (the cluster's caps in miniature).
type countingAdmitter struct {
	mu       sync.Mutex
	max      int
	held     int
	started  []session.SessionID
	released int
}

func (a *countingAdmitter) Admit(string) (session.Ticket, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.held >= a.max {
		return nil, session.ErrSessionLimit
	}
	a.held++
	return &countingTicket{a: a}, nil
}

type countingTicket struct {
	a *countingAdmitter
}

func (t *countingTicket) Started(id session.SessionID) {
	t.a.mu.Lock()
	defer t.a.mu.Unlock()
	t.a.started = append(t.a.started, id)
}

func (t *countingTicket) Release() {
	t.a.mu.Lock()
	defer t.a.mu.Unlock()
	t.a.held--
	t.a.released++
}

func (a *countingAdmitter) snapshot() (held, released int, started []session.SessionID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.held, a.released, append([]session.SessionID(nil), a.started...)
}

// TestAdmitter: the Admitter is asked after the node's own caps; its
// refusal gives the node's slot back; its ticket learns the session id and
// is released once, when the reservation is released or the session ends.
func TestAdmitter(t *testing.T) {
	adm := &countingAdmitter{max: 1}
	m, err := session.NewManager(config.Session{MaxSessions: 5, MaxSessionsPerIP: 5}, testVAD(), config.Tools{},
		session.Plugins{STT: &sessiontest.STT{}, LLM: &sessiontest.LLM{}, TTS: &sessiontest.TTS{}}, nil, nil,
		slog.New(slog.DiscardHandler), session.WithAdmitter(adm))
	require.NoError(t, err)

	r, err := m.Reserve("10.0.0.1")
	require.NoError(t, err)
	_, err = m.Reserve("10.0.0.2")
	require.ErrorIs(t, err, session.ErrSessionLimit, "the admitter's cap")
	r.Release()
	r.Release()
	held, released, _ := adm.snapshot()
	assert.Equal(t, 0, held)
	assert.Equal(t, 1, released, "released once")

	r, err = m.Reserve("10.0.0.1")
	require.NoError(t, err)
	s, err := m.Start(context.Background(), r, session.StartParams{Sink: nopConn{}})
	require.NoError(t, err)
	r.Release() // a started reservation is the session's now
	_, _, started := adm.snapshot()
	assert.Equal(t, []session.SessionID{s.ID()}, started)
	held, _, _ = adm.snapshot()
	assert.Equal(t, 1, held, "held while the session runs")

	s.Close(session.EndNormal, "done")
	<-s.Done()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, m.Wait(ctx), "Wait returns once no session runs")
	held, released, _ = adm.snapshot()
	assert.Equal(t, 0, held)
	assert.Equal(t, 2, released)
	assert.Equal(t, 0, m.Count(), "the node's own slot was given back on the refusal too")
}
