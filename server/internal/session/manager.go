// Package session runs Parley's conversations: a Manager admits and tracks
// sessions; a Session owns one conversation's context (history, tools,
// settings) and its turn-taking — VAD, streaming STT → LLM → TTS, paced
// audio output and barge-in.
//
// It speaks Go, not a wire format: a wire protocol (protocol/parleyv1, and
// later Realtime and Twilio) parses client messages into typed Commands
// for Session.Handle, hands audio to HandleAudio, and implements the Sink
// that receives typed Events and PCM frames. Adding a protocol changes
// nothing here.
//
// Files follow the data flow: manager.go (admission), session.go (the
// session goroutine), commands.go, input.go (audio → VAD), turn.go, stt.go,
// response.go (a reply's life), generate.go (LLM → sentences → TTS),
// toolcalls.go, output.go (pacing and the barge-in gate), history.go,
// metrics.go, events.go.
package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/clock"
	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/tools"
	"github.com/parleyhq/parley/server/internal/vad"
)

// Log attribute keys.
const (
	logKeySessionID = "session_id"
	logKeyRemoteIP  = "remote_ip"
	logKeyTransport = "transport"
)

// sessionIDBytes is the entropy of a session id.
const sessionIDBytes = 12

// SessionID identifies a session.
type SessionID string

// Plugins are the speech and language services a session uses. In
// production they are the plugin host's resilient chains; tests hand in
// in-process fakes.
type Plugins struct {
	STT sdk.STT
	LLM sdk.LLM
	TTS sdk.TTS
}

// Lease is the plugins one session uses for its whole life, from a
// PluginSource: after a reload, sessions already running keep the
// generation they started on. Release is called once when the session
// ended; nil means nothing to release.
type Lease struct {
	Plugins
	// Generation numbers the configuration the plugins come from (0: the
	// Manager's fixed plugins).
	Generation int
	Release    func()
}

// PluginSource hands each new session its plugins (the plugin host's
// current generation).
type PluginSource func() Lease

// MemoryGuard reports whether the process is too close to its memory limit
// to accept another session.
type MemoryGuard interface {
	Overloaded() bool
}

// Option tunes a Manager.
type Option func(*Manager)

// WithVADProber makes every session's speech detector a
// vad.ProbabilityDetector over a stream of newProber (one per session),
// e.g. the shared Silero engine's; without it sessions use the built-in
// energy detector.
func WithVADProber(newProber func() vad.Prober) Option {
	return func(m *Manager) { m.newProber = newProber }
}

// WithClock replaces the wall clock (tests drive time with the audio).
func WithClock(c clock.Clock) Option { return func(m *Manager) { m.clock = c } }

// WithPluginSource makes every session take its plugins from src when it
// starts, instead of the fixed Plugins given to NewManager (which may
// then be empty).
func WithPluginSource(src PluginSource) Option { return func(m *Manager) { m.source = src } }

// WithServerTools offers the tools of srcs (MCP servers) after the
// built-ins and webhooks.
func WithServerTools(srcs ...tools.Source) Option {
	return func(m *Manager) { m.extraTools = append(m.extraTools, srcs...) }
}

// WithHTTPClient sets the client used for webhook tools.
func WithHTTPClient(c *http.Client) Option { return func(m *Manager) { m.httpClient = c } }

// WithRecovery sets how long an utterance (STT) or a reply (TTS) whose
// plugin failed mid-stream waits for a restarted or fallback plugin to take
// over before the turn fails (config.Resilience; default 2 s each, 0 keeps
// the default).
func WithRecovery(stt, tts time.Duration) Option {
	return func(m *Manager) {
		if stt > 0 {
			m.sttRecover = stt
		}
		if tts > 0 {
			m.ttsRecover = tts
		}
	}
}

// Admitter is an admission step after the node's own checks: the
// cluster's global caps. Admit returns the slot it granted, or
// ErrSessionLimit or ErrIPLimit.
type Admitter interface {
	Admit(ip string) (Ticket, error)
}

// Ticket is a slot granted by an Admitter. Started tells it the session id
// once the session runs; Release gives it back (called once, when the
// reservation is released or the session ended).
type Ticket interface {
	Started(id SessionID)
	Release()
}

// WithAdmitter adds a second admission step after the node's own caps.
func WithAdmitter(a Admitter) Option { return func(m *Manager) { m.admitter = a } }

// defaultRecover is the recovery bound when WithRecovery is not given.
const defaultRecover = 2 * time.Second

// Manager admits sessions (global cap, per-IP cap, memory guard), keeps the
// registry of running sessions and drains them on shutdown.
type Manager struct {
	cfg config.Session
	vad config.VAD
	// turn: see WithTurnTaking.
	turn       TurnTaking
	plugins    Plugins
	source     PluginSource
	guard      MemoryGuard
	metrics    *metrics
	log        *slog.Logger
	clock      clock.Clock
	httpClient *http.Client
	tools      tools.Source
	// extraTools are server tools from elsewhere (MCP servers).
	extraTools []tools.Source
	// sttRecover and ttsRecover: see WithRecovery.
	sttRecover, ttsRecover time.Duration
	// filters shares resampling filters between sessions.
	filters audio.FilterCache
	// admitter is the optional second admission step (WithAdmitter).
	admitter Admitter

	wg       sync.WaitGroup
	mu       sync.Mutex
	sessions map[SessionID]*Session
	perIP    map[string]int
	reserved int
	draining bool
	// newProber, if set, gives each session its VAD stream (WithVADProber).
	newProber func() vad.Prober
	// recorder and recordByDefault: see WithRecorder.
	recorder        Recorder
	recordByDefault bool
	// tracing: see WithTracing.
	tracing Tracing
}

// NewManager builds a Manager. cfg and vad are the session and VAD settings
// (MaxSessions or MaxSessionsPerIP 0 means no limit), tools the server-side
// tools, guard may be nil (never overloaded), reg may be nil (no metrics
// export).
func NewManager(cfg config.Session, vad config.VAD, toolCfg config.Tools, p Plugins, guard MemoryGuard,
	reg prometheus.Registerer, logger *slog.Logger, opts ...Option,
) (*Manager, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Manager{
		cfg: cfg, vad: vad, plugins: p, guard: guard, log: logger,
		clock: clock.System{}, httpClient: http.DefaultClient,
		sttRecover: defaultRecover, ttsRecover: defaultRecover,
		sessions: map[SessionID]*Session{}, perIP: map[string]int{},
	}
	for _, o := range opts {
		o(m)
	}
	if m.source == nil && (p.STT == nil || p.LLM == nil || p.TTS == nil) {
		return nil, errors.New("session: STT, LLM and TTS plugins (or a plugin source) are required")
	}
	met, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	m.metrics = met
	tb, err := tools.NewRegistry(toolCfg, m.clock, m.httpClient)
	if err != nil {
		return nil, err
	}
	m.tools = tb
	if len(m.extraTools) > 0 {
		m.tools = tools.Join(append([]tools.Source{tb}, m.extraTools...)...)
	}
	return m, nil
}

// turnDetector is the end-of-turn detector in force.
func (m *Manager) turnDetector() TurnDetector {
	if m.turn.Detector == nil {
		return silenceDetector{}
	}
	return m.turn.Detector
}

// Clock returns the manager's clock (transports use it for rate limits).
func (m *Manager) Clock() clock.Clock { return m.clock }

// Reservation holds an admitted slot until Start or Release.
type Reservation struct {
	m    *Manager
	ip   string
	once sync.Once
	// ticket is the Admitter's slot (nil without one).
	ticket Ticket
}

// releaseTicket gives the Admitter's slot back.
func (r *Reservation) releaseTicket() {
	if r.ticket != nil {
		r.ticket.Release()
	}
}

// ClientIP is the per-IP admission key of a request's RemoteAddr
// (host:port as rewritten by the HTTP real-IP middleware): the host, or
// the whole address when it has no port.
func ClientIP(remoteAddr string) string {
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return host
	}
	return remoteAddr
}

// CarrierTraffic is the ip to Reserve for sessions that arrive through a
// carrier (phone calls come from a few of the carrier's media servers):
// the per-IP cap does not apply to them, the global cap and the memory
// guard do.
const CarrierTraffic = ""

// Reserve admits a new session from client ip, or returns ErrDraining,
// ErrOverloaded, ErrSessionLimit or ErrIPLimit. Transports reserve before
// accepting the connection so they can refuse cleanly.
func (m *Manager) Reserve(ip string) (*Reservation, error) {
	r, err := m.reserveLocal(ip)
	if err != nil || m.admitter == nil {
		return r, err
	}
	// Outside the lock: the Admitter may ask another process.
	t, err := m.admitter.Admit(ip)
	if err != nil {
		m.mu.Lock()
		m.reserved--
		m.dropIPLocked(ip)
		m.mu.Unlock()
		m.metrics.refused.WithLabelValues(string(RefusalCode(err))).Inc()
		return nil, err
	}
	r.ticket = t
	return r, nil
}

// reserveLocal admits against this node's own caps.
func (m *Manager) reserveLocal(ip string) (*Reservation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var err error
	switch {
	case m.draining:
		err = ErrDraining
	case m.guard != nil && m.guard.Overloaded():
		err = ErrOverloaded
	case m.cfg.MaxSessions > 0 && len(m.sessions)+m.reserved >= m.cfg.MaxSessions:
		err = ErrSessionLimit
	case ip != CarrierTraffic && m.cfg.MaxSessionsPerIP > 0 && m.perIP[ip] >= m.cfg.MaxSessionsPerIP:
		err = ErrIPLimit
	}
	if err != nil {
		m.metrics.refused.WithLabelValues(string(RefusalCode(err))).Inc()
		return nil, err
	}
	m.reserved++
	m.perIP[ip]++
	return &Reservation{m: m, ip: ip}, nil
}

// Release gives back a slot that will not be started. Safe to call after Start.
func (r *Reservation) Release() {
	r.once.Do(func() {
		r.m.mu.Lock()
		r.m.reserved--
		r.m.dropIPLocked(r.ip)
		r.m.mu.Unlock()
		r.releaseTicket()
	})
}

func (m *Manager) dropIPLocked(ip string) {
	if m.perIP[ip] <= 1 {
		delete(m.perIP, ip)
		return
	}
	m.perIP[ip]--
}

// RefusalCode maps an admission error to its protocol error code.
func RefusalCode(err error) ErrorCode {
	switch {
	case errors.Is(err, ErrSessionLimit):
		return CodeSessionLimit
	case errors.Is(err, ErrIPLimit):
		return CodeIPLimit
	case errors.Is(err, ErrOverloaded):
		return CodeOverloaded
	case errors.Is(err, ErrDraining):
		return CodeDraining
	}
	return CodeInternal
}

// Start turns a reservation into a running session talking to p.Sink.
// It sends Established before returning. The session ends
// (CloseGoingAway) if ctx is cancelled; transports pass a context that
// lives as long as the connection.
func (m *Manager) Start(ctx context.Context, r *Reservation, p StartParams) (*Session, error) {
	started := false
	r.once.Do(func() { started = true })
	if !started {
		return nil, ErrReservationUsed
	}
	id, err := m.sessionID(p.SessionID)
	if err != nil {
		m.mu.Lock()
		m.reserved--
		m.dropIPLocked(r.ip)
		m.mu.Unlock()
		r.releaseTicket()
		return nil, err
	}
	lease := m.lease()
	s, err := newSession(m, id, r.ip, p, lease)
	if err != nil {
		lease.release()
		m.mu.Lock()
		m.reserved--
		m.dropIPLocked(r.ip)
		m.mu.Unlock()
		r.releaseTicket()
		return nil, err
	}
	runCtx := s.startSessionSpan(ctx)
	m.mu.Lock()
	m.reserved--
	if _, taken := m.sessions[id]; taken {
		m.dropIPLocked(r.ip)
		m.mu.Unlock()
		s.span.End()
		lease.release()
		r.releaseTicket()
		return nil, fmt.Errorf("%w: %s", ErrSessionIDInUse, id)
	}
	m.sessions[id] = s
	draining := m.draining
	m.wg.Add(1)
	m.mu.Unlock()
	m.metrics.active.Inc()
	if r.ticket != nil {
		r.ticket.Started(id)
	}
	s.log.Info("session started")
	recorded := s.setRecording(s.wantsRecording(p))
	s.sendEstablished()
	if !recorded {
		s.sendError(CodeRecordingFailed, clientMessage(CodeRecordingFailed), nil)
	}
	go func() {
		defer m.wg.Done()
		s.run(runCtx)
		m.remove(s)
		lease.release()
		r.releaseTicket()
	}()
	if draining {
		s.Close(EndShutdown, "server shutting down")
	}
	return s, nil
}

// lease returns the plugins a new session uses.
func (m *Manager) lease() Lease {
	if m.source == nil {
		return Lease{Plugins: m.plugins}
	}
	return m.source()
}

// release gives the lease back, if it has anything to give back.
func (l Lease) release() {
	if l.Release != nil {
		l.Release()
	}
}

func (m *Manager) remove(s *Session) {
	m.mu.Lock()
	delete(m.sessions, s.id)
	m.dropIPLocked(s.remoteIP)
	m.mu.Unlock()
	m.metrics.active.Dec()
}

// sessionID is the requested id, checked, or a new one.
func (m *Manager) sessionID(want SessionID) (SessionID, error) {
	if want == "" {
		return newSessionID()
	}
	if !validSessionID(want) {
		return "", fmt.Errorf("%w: %q", ErrBadSessionID, want)
	}
	m.mu.Lock()
	_, taken := m.sessions[want]
	m.mu.Unlock()
	if taken {
		return "", fmt.Errorf("%w: %s", ErrSessionIDInUse, want)
	}
	return want, nil
}

// sessionIDPrefix starts every session id.
const sessionIDPrefix = "sess_"

func validSessionID(id SessionID) bool {
	hexPart, ok := strings.CutPrefix(string(id), sessionIDPrefix)
	if !ok || len(hexPart) != 2*sessionIDBytes {
		return false
	}
	_, err := hex.DecodeString(hexPart)
	return err == nil && strings.ToLower(hexPart) == hexPart
}

// Sessions describes every running session, oldest first.
func (m *Manager) Sessions() []Info {
	m.mu.Lock()
	all := make([]*Session, 0, len(m.sessions))
	for _, s := range m.sessions {
		all = append(all, s)
	}
	m.mu.Unlock()
	out := make([]Info, 0, len(all))
	for _, s := range all {
		out = append(out, s.Info())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Started.Before(out[j].Started) })
	return out
}

// StopAdmitting refuses every new session from now on (ErrDraining)
// while the running ones go on: a node being taken out of rotation.
func (m *Manager) StopAdmitting() {
	m.mu.Lock()
	m.draining = true
	m.mu.Unlock()
	m.log.Info("no longer admitting sessions; running ones continue", "running", m.Count())
}

// Admitting reports whether new sessions are admitted.
func (m *Manager) Admitting() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return !m.draining
}

// Count returns the number of running sessions.
func (m *Manager) Count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sessions)
}

// Lookup returns a running session by id.
func (m *Manager) Lookup(id SessionID) (*Session, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[id]
	return s, ok
}

// Wait waits until no session runs or ctx ends, without ending any: a
// node draining for a rolling deploy (after StopAdmitting).
func (m *Manager) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		m.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("session: wait: %w", ctx.Err())
	}
}

// Drain refuses new sessions, ends every running one (EndShutdown,
// "server shutting down") and waits for them to
// finish or for ctx to end.
func (m *Manager) Drain(ctx context.Context) error {
	m.mu.Lock()
	m.draining = true
	all := make([]*Session, 0, len(m.sessions))
	for _, s := range m.sessions {
		all = append(all, s)
	}
	m.mu.Unlock()
	m.log.Info("draining sessions", "count", len(all))
	for _, s := range all {
		s.Close(EndShutdown, "server shutting down")
	}
	if err := m.Wait(ctx); err != nil {
		return fmt.Errorf("session: drain: %w", ctx.Err())
	}
	return nil
}

// resampler returns a resampler with a shared filter.
func (m *Manager) resampler(from, to int) (*audio.Resampler, error) {
	f, err := m.filters.Get(from, to)
	if err != nil {
		return nil, fmt.Errorf("session: resampler %d→%d Hz: %w", from, to, err)
	}
	return audio.NewResamplerFilter(f), nil
}

func newSessionID() (SessionID, error) {
	var b [sessionIDBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("session: id: %w", err)
	}
	return SessionID(sessionIDPrefix + hex.EncodeToString(b[:])), nil
}
