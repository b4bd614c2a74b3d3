package session_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/session"
	"github.com/parleyhq/parley/server/internal/session/sessiontest"
)

type guard struct{ over atomic.Bool }

func (g *guard) Overloaded() bool { return g.over.Load() }

type nopConn struct{}

func (nopConn) Event(session.Event) error       { return nil }
func (nopConn) Audio([]byte) error              { return nil }
func (nopConn) Close(session.EndReason, string) {}

func newManager(t *testing.T, cfg config.Session, g session.MemoryGuard, reg prometheus.Registerer) *session.Manager {
	t.Helper()
	m, err := session.NewManager(cfg, testVAD(), config.Tools{},
		session.Plugins{STT: &sessiontest.STT{}, LLM: &sessiontest.LLM{}, TTS: &sessiontest.TTS{}}, g, reg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	return m
}

func TestManagerAdmission(t *testing.T) {
	g := &guard{}
	reg := prometheus.NewRegistry()
	m := newManager(t, config.Session{MaxSessions: 2, MaxSessionsPerIP: 1}, g, reg)

	a, err := m.Reserve("10.0.0.1")
	require.NoError(t, err)
	_, err = m.Reserve("10.0.0.1")
	assert.ErrorIs(t, err, session.ErrIPLimit)
	b, err := m.Reserve("10.0.0.2")
	require.NoError(t, err)
	_, err = m.Reserve("10.0.0.3")
	assert.ErrorIs(t, err, session.ErrSessionLimit, "reservations count toward the limit")
	b.Release()
	b.Release() // idempotent
	g.over.Store(true)
	_, err = m.Reserve("10.0.0.3")
	assert.ErrorIs(t, err, session.ErrOverloaded)
	g.over.Store(false)

	s, err := m.Start(context.Background(), a, session.StartParams{Sink: nopConn{}})
	require.NoError(t, err)
	_, err = m.Start(context.Background(), a, session.StartParams{Sink: nopConn{}})
	assert.ErrorIs(t, err, session.ErrReservationUsed)
	assert.Equal(t, 1, m.Count())
	assert.InDelta(t, 1, gauge(t, reg, "parley_sessions_active"), 0)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, m.Drain(ctx))
	<-s.Done()
	assert.Equal(t, 0, m.Count())
	_, err = m.Reserve("10.0.0.9")
	assert.ErrorIs(t, err, session.ErrDraining)
	n, err := testutil.GatherAndCount(reg, "parley_sessions_refused_total")
	require.NoError(t, err)
	assert.Equal(t, 4, n, "one series per refusal reason")
}

// TestCarrierTraffic: calls through a carrier share its few IPs, so the
// per-IP cap does not apply to them; the global cap does.
func TestCarrierTraffic(t *testing.T) {
	m := newManager(t, config.Session{MaxSessions: 3, MaxSessionsPerIP: 1}, nil, nil)
	for range 3 {
		_, err := m.Reserve(session.CarrierTraffic)
		require.NoError(t, err)
	}
	_, err := m.Reserve(session.CarrierTraffic)
	assert.ErrorIs(t, err, session.ErrSessionLimit)
}

func TestManagerDuplicateRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	newManager(t, config.Session{}, nil, reg)
	_, err := session.NewManager(config.Session{}, testVAD(), config.Tools{},
		session.Plugins{STT: &sessiontest.STT{}, LLM: &sessiontest.LLM{}, TTS: &sessiontest.TTS{}}, nil, reg, nil)
	assert.Error(t, err)
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}
