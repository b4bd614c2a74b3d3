package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/vad"
)

// loopQueue is the capacity of a session's work queue (client messages and
// pipeline results waiting for the session goroutine).
const loopQueue = 64

// Conn is what a session needs from its transport. Implementations must be
// safe for concurrent use and must not block: they queue into a bounded
// buffer and return ErrSendBufferFull when it is full (the session then
// ends with CloseSlowConsumer), ErrConnClosed once closed.
type Conn interface {
	// SendText queues one JSON event.
	SendText(msg []byte) error
	// SendAudio queues one 20 ms frame of PCM16LE mono audio at the session's
	// output sample rate; the Conn owns pcm afterwards.
	SendAudio(pcm []byte) error
	// Close ends the connection with a close code and reason once queued
	// messages are out (except for CloseSlowConsumer). Only the first call counts.
	Close(code CloseCode, reason string)
}

// StartParams describe a new session's connection.
type StartParams struct {
	Conn Conn
	// Transport names the transport in logs ("websocket", "webrtc").
	Transport string
	// InputSampleRate is the rate of audio given to HandleAudio until a
	// session.update changes it (0 = 16000).
	InputSampleRate int
	// OutputSampleRate is the rate of audio sent to Conn (0 = config).
	OutputSampleRate int
	// AwaitUpdate refuses audio until the client's first session.update
	// (the WebSocket protocol: the client declares its format first).
	AwaitUpdate bool
}

// turnState is where the conversation is.
type turnState int

// The turn states.
const (
	stateListening turnState = iota
	stateUserSpeaking
	stateThinking
	stateAgentSpeaking
)

func (t turnState) String() string {
	return [...]string{"listening", "user_speaking", "thinking", "agent_speaking"}[t]
}

// settings are the per-session values a client may change.
type settings struct {
	inputRate, outputRate         int
	systemPrompt, voice, language string
	clientTools                   []ToolDefinition
	minSilence, minSpeech         time.Duration
	// threshold is the VAD entry threshold in dB above the noise floor.
	threshold float64
}

// STT queue: frames waiting for the recognizer (2 s of audio).
const (
	sttQueueFrames   = 100
	sttQueueDuration = sttQueueFrames * audio.FrameDuration
)

// utterance is one user speech segment being transcribed. Its frames go
// through audio to the goroutine that owns the STT stream.
type utterance struct {
	audio     chan []byte
	cancel    context.CancelFunc
	closing   bool
	bargedIn  bool
	finals    []string
	lastFinal time.Time
	speechEnd time.Time
}

// Session is one conversation. Its state is owned by one goroutine (run);
// transports call HandleText/HandleAudio, which queue work for it.
type Session struct {
	id       SessionID
	m        *Manager
	conn     Conn
	log      *slog.Logger
	remoteIP string

	loop     chan func(context.Context)
	quit     chan struct{}
	done     chan struct{}
	endOnce  sync.Once
	wg       sync.WaitGroup
	lastSeen atomic.Int64

	pendingMu sync.Mutex
	pending   map[string]chan *ToolResult

	// Owned by the run goroutine.
	st        settings
	ready     bool
	state     turnState
	resampler *audio.Resampler
	framer    audio.Framer
	seg       *vad.Segmenter
	det       *recordingDetector
	energy    *vad.EnergyDetector
	streamPos time.Duration
	voicedEnd time.Duration
	samples   []int16
	resampled []int16
	history   []sdk.Message
	utt       *utterance
	// finishing is an utterance whose speech ended and whose final
	// transcript is still awaited while the user speaks again.
	finishing *utterance
	resp      *response
	nextResp  int
}

func newSession(m *Manager, id SessionID, ip string, p StartParams) (*Session, error) {
	if p.Conn == nil {
		return nil, errors.New("session: StartParams.Conn is nil")
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
		id: id, m: m, conn: p.Conn, remoteIP: ip,
		log:     m.log.With(logKeySessionID, string(id), logKeyRemoteIP, ip, logKeyTransport, p.Transport),
		loop:    make(chan func(context.Context), loopQueue),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
		pending: map[string]chan *ToolResult{},
		st: settings{
			inputRate: in, outputRate: out, systemPrompt: m.cfg.SystemPrompt,
			voice: m.cfg.Voice, language: m.cfg.Language, minSilence: m.vad.MinSilence,
		},
		ready:  !p.AwaitUpdate,
		energy: vad.NewEnergyDetector(m.vad),
	}
	s.det = &recordingDetector{Detector: s.energy}
	s.st.threshold, s.st.minSpeech = s.energy.Threshold(), m.vad.MinSpeech
	s.seg = vad.NewSegmenter(s.det, m.vad)
	if err := s.setInputRate(in); err != nil {
		return nil, err
	}
	s.touch()
	return s, nil
}

// ID returns the session id.
func (s *Session) ID() SessionID { return s.id }

// Done is closed when the session has ended and released its resources.
func (s *Session) Done() <-chan struct{} { return s.done }

// Close ends the session: the Conn is closed with code and reason. Safe
// from any goroutine, more than once (the first reason wins).
func (s *Session) Close(code CloseCode, reason string) {
	s.endOnce.Do(func() {
		s.log.Info("session ending", "close_code", int(code), "reason", reason)
		s.conn.Close(code, reason)
		close(s.quit)
	})
}

// HandleText queues one JSON text message from the client. It blocks while
// the session's queue is full and returns ErrConnClosed once the session ended.
func (s *Session) HandleText(ctx context.Context, msg []byte) error {
	s.touch()
	return s.post(ctx, func(ctx context.Context) { s.onText(ctx, msg) })
}

// HandleAudio queues PCM16LE mono audio at the session's input rate; the
// session owns pcm afterwards.
func (s *Session) HandleAudio(ctx context.Context, pcm []byte) error {
	s.touch()
	return s.post(ctx, func(ctx context.Context) { s.onAudio(ctx, pcm) })
}

// ReportError sends an error event (for problems the transport detects,
// such as oversized messages).
func (s *Session) ReportError(code ErrorCode, msg string, details map[string]string) {
	s.sendJSON(NewErrorEvent(code, msg, details))
}

// History returns a copy of the conversation history (for tests and
// inspection); nil once the session has ended.
func (s *Session) History(ctx context.Context) []sdk.Message {
	ch := make(chan []sdk.Message, 1)
	if err := s.post(ctx, func(context.Context) {
		ch <- append([]sdk.Message(nil), s.history...)
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
	for {
		select {
		case fn := <-s.loop:
			fn(ctx)
		case <-idleCh:
			if s.m.clock.Now().Sub(time.Unix(0, s.lastSeen.Load())) >= idle {
				s.Close(CloseIdleTimeout, "idle timeout")
				return
			}
			arm()
		case <-s.quit:
			return
		case <-ctx.Done():
			s.Close(CloseGoingAway, "server shutting down")
			return
		}
	}
}

func (s *Session) setState(st turnState) {
	if s.state != st {
		s.log.Debug("turn state", "from", s.state.String(), "to", st.String())
		s.state = st
	}
}

// sendJSON marshals and sends a session-level event.
func (s *Session) sendJSON(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.log.Error("marshal event", "error", err)
		return
	}
	if err := s.conn.SendText(b); err != nil {
		s.onSendErr(err)
	}
}

func (s *Session) sendError(code ErrorCode, msg string, details map[string]string) {
	s.sendJSON(NewErrorEvent(code, msg, details))
}

// onSendErr ends the session when the client cannot take more output.
func (s *Session) onSendErr(err error) {
	if errors.Is(err, ErrSendBufferFull) {
		s.Close(CloseSlowConsumer, "send buffer full: client too slow")
		return
	}
	s.Close(CloseNormal, "connection closed")
}

func (s *Session) sendConnectionEstablished() {
	s.sendJSON(ConnectionEstablished{
		Type: TypeConnectionEstablished, SessionID: s.id, Protocol: ProtocolVersion,
		InputAudioFormat: pcmFormat(s.st.inputRate), OutputAudioFormat: pcmFormat(s.st.outputRate),
		AwaitingUpdate: !s.ready,
	})
}

func (s *Session) setInputRate(rate int) error {
	s.framer.Reset()
	s.resampler = nil
	if rate == audio.SampleRate {
		return nil
	}
	r, err := s.m.resampler(rate, audio.SampleRate)
	if err != nil {
		return err
	}
	s.resampler = r
	return nil
}

func (s *Session) onText(ctx context.Context, data []byte) {
	msg, err := ParseClientMessage(data)
	if err != nil {
		var pe *ProtocolError
		if errors.As(err, &pe) {
			s.sendError(pe.Code, pe.Message, pe.Details)
		}
		return
	}
	switch m := msg.(type) {
	case *SessionUpdate:
		s.applyUpdate(m)
	case *InputText:
		s.interrupt(ReasonNewInput)
		s.startResponse(ctx, m.Text, turnTimes{})
	case *ResponseCancel:
		s.interrupt(ReasonClientCancel)
	case *ToolResult:
		if !s.deliverToolResult(m) {
			s.sendError(CodeUnknownToolCall, "no pending client tool call with this id", map[string]string{"call_id": m.CallID})
		}
	case *Ping:
		s.sendJSON(Pong{Type: TypePong, ID: m.ID})
	}
}

func (s *Session) applyUpdate(u *SessionUpdate) {
	next := s.st
	if u.VAD != nil && !s.applyVAD(u.VAD, &next) {
		return
	}
	if u.Tools != nil {
		for i, t := range u.Tools {
			if _, clash := s.m.tools.byName[t.Name]; clash {
				s.sendError(CodeInvalidField, "tool name "+t.Name+" is taken by a server tool",
					map[string]string{"field": fmt.Sprintf("tools[%d].name", i)})
				return
			}
		}
		next.clientTools = u.Tools
	}
	if u.InputSampleRate != nil {
		next.inputRate = *u.InputSampleRate
	}
	if u.OutputSampleRate != nil {
		next.outputRate = *u.OutputSampleRate
	}
	if u.SystemPrompt != nil {
		next.systemPrompt = *u.SystemPrompt
	}
	if u.Voice != nil {
		next.voice = *u.Voice
	}
	if u.Language != nil {
		next.language = *u.Language
	}
	if next.inputRate != s.st.inputRate {
		if err := s.setInputRate(next.inputRate); err != nil {
			s.sendError(CodeUnsupportedSampleRate, err.Error(), map[string]string{"field": "input_sample_rate"})
			return
		}
	}
	if next.minSilence != s.st.minSilence {
		s.seg.SetMinSilence(next.minSilence)
	}
	if next.minSpeech != s.st.minSpeech {
		s.seg.SetMinSpeech(next.minSpeech)
	}
	if next.threshold != s.st.threshold {
		s.energy.SetThreshold(next.threshold)
	}
	s.st = next
	s.ready = true
	names := make([]string, 0, len(s.m.tools.order)+len(next.clientTools))
	names = append(names, s.m.tools.order...)
	for _, t := range next.clientTools {
		names = append(names, t.Name)
	}
	s.sendJSON(SessionUpdated{
		Type: TypeSessionUpdated, InputAudioFormat: pcmFormat(next.inputRate), OutputAudioFormat: pcmFormat(next.outputRate),
		Voice: next.voice, Language: next.language, MinSilenceMS: next.minSilence.Milliseconds(),
		MinSpeechMS: next.minSpeech.Milliseconds(), ThresholdDB: next.threshold, Tools: names,
	})
}

// applyVAD checks u's VAD settings against the server's limits (a zero
// maximum means none) and writes them to next. On the first one out of
// limits it sends invalid_field, naming the field and the allowed range, and
// reports false: the update is refused as a whole.
func (s *Session) applyVAD(u *VADUpdate, next *settings) bool {
	lim := s.m.vad
	outOfRange := func(field, value, lo, hi string) bool {
		s.sendError(CodeInvalidField, fmt.Sprintf("%s must be within %s..%s", field, lo, hi),
			map[string]string{"field": field, "value": value})
		return false
	}
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
	if u.MinSilenceMS != nil {
		d := time.Duration(*u.MinSilenceMS) * time.Millisecond
		if d < lim.MinSilenceMin || (lim.MinSilenceMax > 0 && d > lim.MinSilenceMax) {
			return outOfRange("vad.min_silence_ms", strconv.Itoa(*u.MinSilenceMS), ms(lim.MinSilenceMin), ms(lim.MinSilenceMax))
		}
		next.minSilence = d
	}
	if u.MinSpeechMS != nil {
		d := time.Duration(*u.MinSpeechMS) * time.Millisecond
		if d < lim.MinSpeechMin || (lim.MinSpeechMax > 0 && d > lim.MinSpeechMax) {
			return outOfRange("vad.min_speech_ms", strconv.Itoa(*u.MinSpeechMS), ms(lim.MinSpeechMin), ms(lim.MinSpeechMax))
		}
		next.minSpeech = d
	}
	if u.ThresholdDB != nil {
		db := *u.ThresholdDB
		if db < lim.ThresholdMin || (lim.ThresholdMax > 0 && db > lim.ThresholdMax) {
			g := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
			return outOfRange("vad.threshold_db", g(db), g(lim.ThresholdMin), g(lim.ThresholdMax))
		}
		next.threshold = db
	}
	return true
}

func (s *Session) onAudio(ctx context.Context, pcm []byte) {
	if !s.ready {
		s.sendError(CodeSessionNotReady, "send session.update (with input_sample_rate) before audio", nil)
		return
	}
	var err error
	s.samples, err = audio.DecodePCM16LE(s.samples[:0], pcm)
	if err != nil {
		s.sendError(CodeOddLengthAudio, "binary audio must hold whole PCM16 samples (even length)",
			map[string]string{"bytes": strconv.Itoa(len(pcm))})
		return
	}
	in := s.samples
	if s.resampler != nil {
		s.resampled = s.resampler.Process(s.resampled[:0], in)
		in = s.resampled
	}
	s.framer.Push(in, func(f *audio.Frame) { s.processFrame(ctx, f) })
}

// processFrame runs VAD on one 16 kHz frame and drives the turn.
func (s *Session) processFrame(ctx context.Context, f *audio.Frame) {
	s.streamPos += audio.FrameDuration
	res := s.seg.Process(f)
	if s.det.last {
		s.voicedEnd = s.streamPos
	}
	switch res.Event {
	case vad.SpeechStarted:
		s.onSpeechStarted(ctx, res)
	case vad.SpeechStopped:
		s.onSpeechStopped(res)
	default:
		if res.Speaking && s.utt != nil && !s.utt.closing {
			s.sttSend(f)
		}
	}
	if res.Speaking && s.resp != nil && s.voicedDuration() >= s.m.cfg.InterruptAfter {
		s.interrupt(ReasonBargeIn)
		if s.utt != nil {
			s.utt.bargedIn = true
		}
		s.setState(stateUserSpeaking)
	}
}

// voicedDuration is the current speech run without its trailing silence
// (SpeechDuration counts the silence that may yet end the turn).
func (s *Session) voicedDuration() time.Duration {
	return s.seg.SpeechDuration() - (s.streamPos - s.voicedEnd)
}

// recordingDetector remembers the last per-frame decision.
type recordingDetector struct {
	vad.Detector
	last bool
}

// IsSpeech implements vad.Detector.
func (d *recordingDetector) IsSpeech(f *audio.Frame) bool {
	d.last = d.Detector.IsSpeech(f)
	return d.last
}

func (s *Session) onSpeechStarted(ctx context.Context, res vad.Result) {
	s.sendJSON(SpeechEvent{Type: TypeSpeechStarted, AudioMS: res.At.Milliseconds()})
	if s.resp == nil {
		s.setState(stateUserSpeaking)
	}
	if u := s.utt; u != nil {
		s.utt = nil
		if u.closing {
			// Its final transcript is on the way: keep waiting for it.
			if s.finishing != nil {
				s.finishing.cancel()
			}
			s.finishing = u
		} else {
			u.cancel()
		}
	}
	uctx, cancel := context.WithCancel(ctx)
	u := &utterance{audio: make(chan []byte, sttQueueFrames), cancel: cancel}
	s.utt = u
	for i := range res.PreRoll {
		if !s.sttSend(&res.PreRoll[i]) {
			return
		}
	}
	cfg := sdk.STTConfig{SampleRate: audio.SampleRate, Encoding: sdk.EncodingPCM16LE, Language: s.st.language, InterimResults: true}
	s.wg.Add(1)
	go s.runUtterance(uctx, u, cfg)
}

// sttSend queues one frame for the utterance's STT stream; false (and the
// utterance fails) if the recognizer is too far behind.
func (s *Session) sttSend(f *audio.Frame) bool {
	u := s.utt
	select {
	case u.audio <- f.AppendBytes(make([]byte, 0, audio.FrameBytes)):
		return true
	default:
		u.cancel()
		s.utt = nil
		s.pluginError(CodeSTTFailed, sdk.Errorf(sdk.CodeResourceExhausted, "speech recognizer is %s behind", sttQueueDuration))
		return false
	}
}

// runUtterance opens the STT stream and feeds it, off the session
// goroutine, so a slow recognizer never delays VAD or barge-in. Errors go
// back to the session goroutine through onTranscript.
func (s *Session) runUtterance(ctx context.Context, u *utterance, cfg sdk.STTConfig) {
	defer s.wg.Done()
	fail := func(err error) {
		s.postAsync(func(ctx context.Context) { s.onTranscript(ctx, u, sdk.TranscriptEvent{}, err) })
	}
	stream, err := s.m.plugins.STT.Transcribe(ctx, cfg)
	if err != nil {
		fail(err)
		return
	}
	s.wg.Add(1)
	go s.recvTranscripts(u, stream)
	for {
		select {
		case b, ok := <-u.audio:
			if !ok {
				if err := stream.CloseSend(); err != nil {
					fail(err)
				}
				return
			}
			if err := stream.SendAudio(b); err != nil {
				fail(err)
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

func (s *Session) recvTranscripts(u *utterance, stream sdk.STTStream) {
	defer s.wg.Done()
	for {
		ev, err := stream.Recv()
		s.postAsync(func(ctx context.Context) { s.onTranscript(ctx, u, ev, err) })
		if err != nil {
			return
		}
	}
}

func (s *Session) onSpeechStopped(res vad.Result) {
	s.sendJSON(SpeechEvent{Type: TypeSpeechStopped, AudioMS: res.At.Milliseconds()})
	u := s.utt
	if u == nil {
		if s.resp == nil {
			s.setState(stateListening)
		}
		return
	}
	u.speechEnd = s.m.clock.Now().Add(-(s.streamPos - res.At))
	if s.resp != nil && !u.bargedIn {
		// Speech over the agent that never reached the interruption
		// threshold (a backchannel, a cough): not a turn.
		u.cancel()
		s.utt = nil
		return
	}
	u.closing = true
	s.setState(stateThinking)
	close(u.audio) // the sender closes the stream after the last frame
}

func (s *Session) onTranscript(ctx context.Context, u *utterance, ev sdk.TranscriptEvent, err error) {
	if s.utt != u && s.finishing != u {
		return
	}
	switch {
	case err == nil && !ev.Final:
		s.sendJSON(TranscriptEvent{Type: TypeTranscriptPartial, Text: ev.Text})
		return
	case err == nil:
		if t := strings.TrimSpace(ev.Text); t != "" {
			u.finals = append(u.finals, t)
		}
		u.lastFinal = s.m.clock.Now()
		return
	}
	if s.utt == u {
		s.utt = nil
	} else {
		s.finishing = nil
	}
	u.cancel()
	if !errors.Is(err, io.EOF) {
		s.pluginError(CodeSTTFailed, err)
		s.settle()
		return
	}
	if !u.closing {
		return // the stream ended before the end of speech: nothing to answer
	}
	text := strings.Join(u.finals, " ")
	s.sendJSON(TranscriptEvent{Type: TypeTranscriptFinal, Text: text})
	if text == "" {
		s.settle()
		return
	}
	final := u.lastFinal
	if final.IsZero() {
		final = s.m.clock.Now()
	}
	s.interrupt(ReasonNewInput)
	s.startResponse(ctx, text, turnTimes{speechEnd: u.speechEnd, sttFinal: final})
}

// settle returns to listening unless the user or the agent is busy.
func (s *Session) settle() {
	switch {
	case s.utt != nil && !s.utt.closing:
		s.setState(stateUserSpeaking)
	case s.resp == nil:
		s.setState(stateListening)
	}
}

// pluginError sends the error event for a failed plugin call.
func (s *Session) pluginError(code ErrorCode, err error) {
	details := map[string]string{"plugin_code": string(sdk.CodeOf(err))}
	msg := err.Error()
	var pe *sdk.Error
	if errors.As(err, &pe) {
		msg = pe.Message
		if pe.RetryAfter > 0 {
			details["retry_after_ms"] = strconv.FormatInt(pe.RetryAfter.Milliseconds(), 10)
		}
	}
	s.log.Warn("plugin call failed", "code", string(code), "error", err)
	s.sendError(code, msg, details)
}

// registerCall and deliverToolResult connect client-side tool calls.
func (s *Session) registerCall(id string) chan *ToolResult {
	ch := make(chan *ToolResult, 1)
	s.pendingMu.Lock()
	s.pending[id] = ch
	s.pendingMu.Unlock()
	return ch
}

func (s *Session) unregisterCall(id string) {
	s.pendingMu.Lock()
	delete(s.pending, id)
	s.pendingMu.Unlock()
}

func (s *Session) deliverToolResult(r *ToolResult) bool {
	s.pendingMu.Lock()
	ch, ok := s.pending[r.CallID]
	delete(s.pending, r.CallID)
	s.pendingMu.Unlock()
	if ok {
		ch <- r
	}
	return ok
}
