package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/resilience"
	"github.com/parleyhq/parley/server/internal/tools"
)

// loopQueue is the capacity of a session's work queue (client commands and
// pipeline results waiting for the session goroutine).
const loopQueue = 64

// StartParams describe a new session's connection.
type StartParams struct {
	// Sink receives the session's events and audio.
	Sink Sink
	// Transport names the transport in logs ("websocket", "webrtc").
	Transport string
	// InputSampleRate is the rate of audio given to HandleAudio until an
	// Update changes it (0 = 16000).
	InputSampleRate int
	// OutputSampleRate is the rate of audio sent to the Sink (0 = config).
	OutputSampleRate int
	// AwaitUpdate refuses audio until the client's first Update (the
	// parley.v1 WebSocket protocol: the client declares its format first).
	AwaitUpdate bool
	// ReportsPlayback: the transport reports what the listener heard with
	// Played commands (Twilio marks); the session cuts interrupted replies
	// at the last report instead of estimating from what it sent.
	ReportsPlayback bool
	// SessionID, when set, is the id the session gets (a client token
	// bound to it); otherwise a new one is made.
	SessionID SessionID
	// MaxDuration ends the session that long after it starts
	// (EndMaxDuration; 0 = no limit).
	MaxDuration time.Duration
	// SystemPrompt and Voice, when set, replace the configured ones; a
	// system prompt set here cannot be changed by the client.
	SystemPrompt, Voice string
	// ServerTools, when not nil, narrows the server's tools to these names
	// for this session (a phone number's or a client token's allowance).
	ServerTools []string
	// Labels are facts about the connection shown in Info (a call's
	// call_sid, from, to); the keys are the transport's.
	Labels map[string]string
	// NoResume: the protocol cannot take a response back after telling
	// the client it was interrupted (OpenAI Realtime), so speech over the
	// agent interrupts it for good instead of pausing it.
	NoResume bool
	// Record, when set, decides whether the session is recorded (a
	// client token's rec claim) and the client cannot change it; nil
	// leaves it to the server's default and the client's Update.
	Record *bool
}

// Info describes a running session (the admin API).
type Info struct {
	ID        SessionID
	Transport string
	RemoteIP  string
	Started   time.Time
	// State is the turn state: listening, user_speaking, thinking,
	// agent_speaking.
	State string
	// Turns counts the agent's responses so far.
	Turns int64
	// Labels are the transport's facts about the connection.
	Labels map[string]string
	// Generation is the plugin generation the session uses (0 without
	// reloadable plugins).
	Generation int
}

// The sample rates (Hz) a client may declare.
const (
	Rate8k  = 8000
	Rate16k = 16000
	Rate24k = 24000
	Rate48k = 48000
)

// SupportedSampleRate reports whether a client may declare rate (Hz) for its
// input or output audio: 8000, 16000, 24000 or 48000.
func SupportedSampleRate(rate int) bool {
	switch rate {
	case Rate8k, Rate16k, Rate24k, Rate48k:
		return true
	}
	return false
}

// settings are the per-session values a client may change.
type settings struct {
	inputRate, outputRate         int
	systemPrompt, voice, language string
	minSilence, minSpeech         time.Duration
	// threshold is the VAD entry threshold in dB above the noise floor.
	threshold float64
	// manualTurns: turns end on CommitInput only (manual.go).
	manualTurns bool
	turn        turnSettings
}

// turnSettings are the turn-taking values a client may change
// (TurnUpdate); they start as the server's (TurnTaking).
type turnSettings struct {
	complete, incomplete, falseTimeout time.Duration
	minWords                           int
	resume, preemptive                 bool
}

// Session is one conversation. Its state is owned by one goroutine (run);
// transports call Handle and HandleAudio, which queue work for it.
type Session struct {
	id        SessionID
	m         *Manager
	sink      Sink
	log       *slog.Logger
	remoteIP  string
	transport string
	started   time.Time
	maxDur    time.Duration
	// promptLocked: the system prompt came with the client's token.
	promptLocked bool
	// turnNow and turns mirror the turn state for Info (read by any goroutine).
	turnNow atomic.Int32
	turns   atomic.Int64
	// reportsPlayback: see StartParams.ReportsPlayback.
	reportsPlayback bool
	// client holds the client's tools and their pending calls.
	client *tools.Client
	// server are the server tools this session may use.
	server tools.Source
	labels map[string]string
	// plugins are the session's for its whole life (a reload does not
	// move it); generation numbers them.
	plugins    Plugins
	generation int
	// span is the session's trace span (tracing.go).
	span trace.Span

	loop     chan func(context.Context)
	quit     chan struct{}
	done     chan struct{}
	endOnce  sync.Once
	wg       sync.WaitGroup
	lastSeen atomic.Int64

	// Owned by the run goroutine.
	st    settings
	ready bool
	turn  turnState
	in    input
	hist  history
	// uturn is the user's turn being heard, utt its segment being
	// spoken (nil between segments).
	uturn *userTurn
	utt   *utterance
	// finishing is a turn that ended and whose final transcript is still
	// awaited while the user speaks again.
	finishing *userTurn
	// updates counts applied Updates (a preemptive reply asked before
	// one is not used).
	updates int
	// noResume: see StartParams.NoResume.
	noResume bool
	// recSink is the Sink wrapper that feeds the recording (nil without
	// a Recorder); rec the recording, nil while not recording; recLocked:
	// the token decided (StartParams.Record).
	recSink   *recordingSink
	rec       Recording
	recLocked bool
	// endReason is the first Close's reason.
	endReason EndReason
	// respondAfter is a Respond waiting for a committed utterance's
	// transcript (manual turns).
	respondAfter *Respond
	resp         *response
	// last is the most recent response that ended (for Truncate).
	last     *response
	nextResp int
}

func newSession(m *Manager, id SessionID, ip string, p StartParams, lease Lease) (*Session, error) {
	if p.Sink == nil {
		return nil, errors.New("session: StartParams.Sink is nil")
	}
	in := p.InputSampleRate
	if in == 0 {
		in = audio.SampleRate
	}
	out := p.OutputSampleRate
	if out == 0 {
		out = m.cfg.OutputSampleRate
	}
	if out == 0 {
		out = audio.SampleRate
	}
	if !SupportedSampleRate(in) || !SupportedSampleRate(out) {
		return nil, fmt.Errorf("session: sample rates %d/%d: %w", in, out, audio.ErrUnsupportedRate)
	}
	s := &Session{
		id: id, m: m, sink: p.Sink, remoteIP: ip, reportsPlayback: p.ReportsPlayback,
		transport: p.Transport, started: m.clock.Now(), maxDur: p.MaxDuration, promptLocked: p.SystemPrompt != "",
		server: m.tools, labels: p.Labels, noResume: p.NoResume, plugins: lease.Plugins, generation: lease.Generation,
		log:    m.log.With(logKeySessionID, string(id), logKeyRemoteIP, ip, logKeyTransport, p.Transport),
		client: tools.NewClient(m.clock, m.cfg.ClientToolTimeout),
		loop:   make(chan func(context.Context), loopQueue),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
		st: settings{
			inputRate: in, outputRate: out, systemPrompt: m.cfg.SystemPrompt,
			voice: m.cfg.Voice, language: m.cfg.Language, minSilence: m.vad.MinSilence,
			turn: turnSettings{
				complete: m.turn.CompleteDelay, incomplete: m.turn.IncompleteDelay, falseTimeout: m.turn.FalseInterruptionTimeout,
				minWords: m.turn.MinInterruptionWords, resume: m.turn.ResumeFalseInterruption, preemptive: m.turn.Preemptive,
			},
		},
		ready: !p.AwaitUpdate,
		// A no-op span until Manager.Start starts the session's.
		span: noop.Span{},
		hist: history{limit: m.cfg.MaxHistory},
	}
	if p.ServerTools != nil {
		s.server = tools.Only(m.tools, p.ServerTools)
	}
	if m.recorder != nil {
		s.recSink = &recordingSink{Sink: p.Sink, now: m.clock.Now}
		s.sink = s.recSink
	}
	s.recLocked = p.Record != nil
	if p.SystemPrompt != "" {
		s.st.systemPrompt = p.SystemPrompt
	}
	if p.Voice != "" {
		s.st.voice = p.Voice
	}
	vcfg := m.vad
	if m.turn.SpeechHang > 0 {
		vcfg.MinSilence = m.turn.SpeechHang
	}
	s.in.init(vcfg, m.newProber)
	s.st.threshold, s.st.minSpeech = s.in.energy.Threshold(), m.vad.MinSpeech
	if err := s.setInputRate(in); err != nil {
		return nil, err
	}
	s.touch()
	return s, nil
}

// ID returns the session id.
func (s *Session) ID() SessionID { return s.id }

// Info describes the session now; safe from any goroutine.
func (s *Session) Info() Info {
	return Info{
		ID: s.id, Transport: s.transport, RemoteIP: s.remoteIP, Started: s.started,
		State: turnState(s.turnNow.Load()).String(), Turns: s.turns.Load(), Labels: s.labels,
		Generation: s.generation,
	}
}

// Done is closed when the session has ended and released its resources.
func (s *Session) Done() <-chan struct{} { return s.done }

// Close ends the session: the Sink is closed with reason and detail. Safe
// from any goroutine, more than once (the first reason wins).
func (s *Session) Close(reason EndReason, detail string) {
	s.endOnce.Do(func() {
		s.endReason = reason
		s.log.Info("session ending", "end_reason", reason.String(), "detail", detail)
		s.recordEnd(reason)
		s.sink.Close(reason, detail)
		close(s.quit)
	})
}

// Handle queues one command from the client. It blocks while the
// session's queue is full and returns ErrConnClosed once the session ended.
func (s *Session) Handle(ctx context.Context, cmd Command) error {
	s.touch()
	return s.post(ctx, func(ctx context.Context) { s.onCommand(ctx, cmd) })
}

// HandleAudio queues PCM16LE mono audio at the session's input rate; the
// session owns pcm afterwards. It only reads pcm (never writes it), so a
// caller may pass a buffer it shares read only.
func (s *Session) HandleAudio(ctx context.Context, pcm []byte) error {
	s.touch()
	return s.post(ctx, func(ctx context.Context) { s.onAudio(ctx, pcm) })
}

// OfferAudio is HandleAudio for audio the transport makes up rather than
// receives (the silence of a client's DTX pause): it does not wait for the
// session's loop — it reports false and queues nothing when the loop is
// busy, and the caller offers it again later — and it is not client
// traffic for the idle timeout.
func (s *Session) OfferAudio(pcm []byte) (bool, error) {
	select {
	case s.loop <- func(ctx context.Context) { s.onAudio(ctx, pcm) }:
		return true, nil
	case <-s.quit:
		return false, ErrConnClosed
	default:
		return false, nil
	}
}

// ReportError sends an Error event (for problems the protocol or the
// transport detects, such as malformed or oversized messages). It counts
// as client traffic for the idle timeout.
func (s *Session) ReportError(code ErrorCode, msg string, details map[string]string) {
	s.touch()
	s.sendError(code, msg, details)
}

// History returns a copy of the conversation history (for tests and
// inspection); nil once the session has ended.
func (s *Session) History(ctx context.Context) []sdk.Message {
	ch := make(chan []sdk.Message, 1)
	if err := s.post(ctx, func(context.Context) {
		ch <- append([]sdk.Message(nil), s.hist.msgs...)
	}); err != nil {
		return nil
	}
	select {
	case h := <-ch:
		return h
	case <-s.done:
		return nil
	case <-ctx.Done():
		return nil
	}
}

func (s *Session) touch() { s.lastSeen.Store(s.m.clock.Now().UnixNano()) }

// post queues fn for the session goroutine.
func (s *Session) post(ctx context.Context, fn func(context.Context)) error {
	select {
	case s.loop <- fn:
		return nil
	case <-s.quit:
		return ErrConnClosed
	case <-ctx.Done():
		return fmt.Errorf("session: %w", ctx.Err())
	}
}

// postAsync queues fn from a pipeline goroutine; dropped once the session ends.
func (s *Session) postAsync(fn func(context.Context)) {
	select {
	case s.loop <- fn:
	case <-s.quit:
	}
}

// run is the session goroutine.
func (s *Session) run(parent context.Context) {
	ctx, cancel := context.WithCancel(parent)
	defer func() {
		cancel()
		if s.resp != nil {
			s.resp.out.close()
		}
		s.wg.Wait()
		s.endRecording()
		s.endSessionSpan()
		s.log.Info("session ended")
		close(s.done)
	}()
	idle := s.m.cfg.IdleTimeout
	var idleCh <-chan time.Time
	stopIdle := func() {}
	arm := func() {
		if idle > 0 {
			stopIdle()
			idleCh, stopIdle = s.m.clock.At(time.Unix(0, s.lastSeen.Load()).Add(idle))
		}
	}
	arm()
	defer func() { stopIdle() }()
	var maxCh <-chan time.Time
	if s.maxDur > 0 {
		ch, stop := s.m.clock.At(s.started.Add(s.maxDur))
		defer stop()
		maxCh = ch
	}
	for {
		select {
		case fn := <-s.loop:
			fn(ctx)
		case <-maxCh:
			s.Close(EndMaxDuration, "the session reached the maximum duration of its token")
			return
		case <-idleCh:
			if s.m.clock.Now().Sub(time.Unix(0, s.lastSeen.Load())) >= idle {
				s.Close(EndIdle, "idle timeout")
				return
			}
			arm()
		case <-s.quit:
			return
		case <-ctx.Done():
			s.Close(EndShutdown, "server shutting down")
			return
		}
	}
}

// send sends a session-level event.
func (s *Session) send(ev Event) {
	if err := s.sink.Event(ev); err != nil {
		s.onSendErr(err)
	}
}

func (s *Session) sendError(code ErrorCode, msg string, details map[string]string) {
	s.send(NewError(code, msg, details))
}

// onSendErr ends the session when the client cannot take more output.
func (s *Session) onSendErr(err error) {
	if errors.Is(err, ErrSendBufferFull) {
		s.Close(EndSlowConsumer, "send buffer full: client too slow")
		return
	}
	s.Close(EndNormal, "connection closed")
}

func (s *Session) sendEstablished() {
	s.send(Established{SessionID: s.id, InputRate: s.st.inputRate, OutputRate: s.st.outputRate, AwaitingUpdate: !s.ready})
}

// pluginError sends the error event for a failed plugin call: the stable
// code, a fixed short message, the sdk code and whether trying again may
// help. The plugin's own error text — which can hold socket paths,
// addresses, provider bodies — goes to the log only.
func (s *Session) pluginError(code ErrorCode, err error) {
	pc := sdk.CodeOf(err)
	details := map[string]string{"plugin_code": string(pc)}
	var pe *sdk.Error
	if errors.As(err, &pe) && pe.RetryAfter > 0 {
		details["retry_after_ms"] = strconv.FormatInt(pe.RetryAfter.Milliseconds(), 10)
	}
	s.log.Warn("plugin call failed", "code", string(code), "plugin_code", string(pc), "error", err)
	ev := NewError(code, clientMessage(code), details)
	ev.Retryable = resilience.IsTransient(err)
	s.send(ev)
}
