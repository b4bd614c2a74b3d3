package session

import (
	"context"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/turndetect"
)

// TurnTaking configures when a user's turn ends and what interrupts the
// agent (WithTurnTaking). The zero value is the behaviour without it: the
// turn ends after vad.min_silence of silence, and interrupt_after of
// speech over the agent interrupts it.
type TurnTaking struct {
	// Detector chooses the end-of-turn wait; nil = SilenceDetector.
	Detector TurnDetector
	// CompleteDelay and IncompleteDelay are the waits after words that
	// read as finished / as going on (clients may change them within
	// MaxEndpointDelay); detectors get them in TurnInput.
	CompleteDelay, IncompleteDelay time.Duration
	// SpeechHang is the silence after which the VAD reports SpeechStopped
	// (0 = the session's min silence: speech stopped is the end of turn).
	SpeechHang time.Duration
	// MaxEndpointDelay bounds the detector's wait (0 = no bound).
	MaxEndpointDelay time.Duration
	// Preemptive asks the LLM as soon as the final transcript is known,
	// before the wait is over.
	Preemptive bool
	// MinInterruptionWords is how many recognised words that are not
	// backchannels interrupt the agent at once (0 = words do not
	// interrupt; only interrupt_after of speech does).
	MinInterruptionWords int
	// Backchannels never interrupt when they are all the user said.
	Backchannels []string
	// ResumeFalseInterruption pauses the agent on PauseAfter of speech
	// over it and resumes it if that sound yields no words within
	// FalseInterruptionTimeout of its end (or only backchannels).
	ResumeFalseInterruption  bool
	PauseAfter               time.Duration
	FalseInterruptionTimeout time.Duration
}

// WithTurnTaking sets the session's turn-taking (see TurnTaking).
func WithTurnTaking(t TurnTaking) Option { return func(m *Manager) { m.turn = t } }

// TurnDetector decides how long the silence after the user's speech must
// last before the turn ends. It is asked when speech stops and again
// whenever the words change before the turn ended; the latest answer
// counts. Implementations are shared by all sessions and must be safe for
// concurrent use; EndOfTurn runs on a session's goroutine and must be
// quick (an ML detector that needs more runs its model elsewhere and
// answers from what it has).
type TurnDetector interface {
	EndOfTurn(in TurnInput) TurnVerdict
}

// TurnInput is what a TurnDetector judges by.
type TurnInput struct {
	// Text is the turn's words so far: final text of the segments already
	// recognised, then the current partial.
	Text string
	// Final: Text is the recognizer's last word on all the turn's speech.
	Final bool
	// MinSilence is the session's vad.min_silence: the wait when the
	// words give no cue. CompleteDelay and IncompleteDelay are the
	// session's waits after words that read as finished / going on.
	MinSilence, CompleteDelay, IncompleteDelay time.Duration
	// Language is the session's language (BCP 47).
	Language string
}

// TurnVerdict is a TurnDetector's answer.
type TurnVerdict struct {
	// Decision names it (a metric label: keep the set small), e.g.
	// "complete", "incomplete", "unknown", "silence".
	Decision string
	// Wait is the silence, from the end of speech, after which the turn
	// ends (bounded by TurnTaking.MaxEndpointDelay).
	Wait time.Duration
}

// Decisions the session itself makes.
const (
	DecisionSilence = "silence"
	// DecisionForced: the VAD ended speech that went on too long.
	DecisionForced = "forced"
	// DecisionManual: the client committed the turn (manual turns).
	DecisionManual = "manual"
)

type silenceDetector struct{}

func (silenceDetector) EndOfTurn(in TurnInput) TurnVerdict {
	return TurnVerdict{Decision: DecisionSilence, Wait: in.MinSilence}
}

// SilenceDetector waits the session's min silence after every stop.
func SilenceDetector() TurnDetector { return silenceDetector{} }

type rulesDetector struct{}

func (rulesDetector) EndOfTurn(in TurnInput) TurnVerdict {
	v, _ := turndetect.Classify(in.Text)
	switch v {
	case turndetect.Complete:
		if !in.Final {
			// A partial transcript may lag the speech: trust a finished
			// sentence only once the recognizer's final words say so.
			return TurnVerdict{Decision: v.String(), Wait: max(in.CompleteDelay, in.MinSilence)}
		}
		return TurnVerdict{Decision: v.String(), Wait: in.CompleteDelay}
	case turndetect.Incomplete:
		return TurnVerdict{Decision: v.String(), Wait: in.IncompleteDelay}
	}
	return TurnVerdict{Decision: v.String(), Wait: in.MinSilence}
}

// RulesDetector reads the words (turndetect.Classify): complete after a
// finished request (once the words are final; on a partial transcript,
// which may lag the speech, the session's min silence), incomplete when
// they obviously go on, the session's min silence with no words yet.
func RulesDetector() TurnDetector { return rulesDetector{} }

// userTurn is the user's turn being heard: one or more speech segments
// (each its own STT stream, an utterance) up to the end of the turn.
// Owned by the session goroutine.
type userTurn struct {
	segs []*utterance
	// speechEnd is the end of the last speech as an input audio offset,
	// speechEndAt the same as a time.
	speechEnd   time.Duration
	speechEndAt time.Time
	// waiting: speech stopped and the end-of-turn wait is under way,
	// until endAt (input audio offset).
	waiting bool
	endAt   time.Duration
	verdict TurnVerdict
	// delay is how long the wait lasted (set at the end).
	delay time.Duration
	// ended: TurnEnded was sent; the answer follows once every segment's
	// final transcript is in.
	ended bool
	// overAgent: it began while the agent was answering and has not yet
	// been judged an interruption (confirmed) or not.
	overAgent, confirmed bool
	pre                  *preemptive
	// manual: under manual turns (committed by the client).
	manual bool
	// voiced is the speech the detector heard in the turn so far, over
	// all its segments (an echo canceller chops speech over the agent
	// into short runs; together they are the barge-in).
	voiced time.Duration
	// span is the turn's trace span; the response answering it ends it.
	span trace.Span
}

// text is the turn's words so far.
func (t *userTurn) text() string {
	var b strings.Builder
	for _, u := range t.segs {
		for _, part := range u.words() {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(part)
		}
	}
	return b.String()
}

// final reports whether every segment's final transcript is in.
func (t *userTurn) final() bool {
	for _, u := range t.segs {
		if !u.done {
			return false
		}
	}
	return true
}

// lastFinal is when the last final transcript arrived.
func (t *userTurn) lastFinal() time.Time {
	var at time.Time
	for _, u := range t.segs {
		if u.lastFinal.After(at) {
			at = u.lastFinal
		}
	}
	return at
}

// cancel stops the turn's STT streams and any preemptive work.
func (t *userTurn) cancel(s *Session) {
	for _, u := range t.segs {
		u.cancel()
	}
	t.endSpan(turnDropped)
	s.dropPreemptive(t)
}

// beginSegment opens a speech segment of the current turn (a new turn if
// none is open), pre-roll first.
func (s *Session) beginSegment(ctx context.Context, pre []audio.Frame) *userTurn {
	t := s.uturn
	if t == nil || t.ended {
		if t != nil {
			// Its final transcript is on the way: keep waiting for it.
			if s.finishing != nil {
				s.finishing.cancel(s)
			}
			s.finishing = t
		}
		t = &userTurn{overAgent: s.resp != nil, span: s.startTurnSpan(ctx, turnSpoken)}
		s.uturn = t
	} else {
		t.waiting = false
		s.dropPreemptive(t)
	}
	s.startUtterance(ctx, t, pre)
	return t
}

// endSegment ends the current segment at the end of speech (at, an input
// audio offset) and starts the end-of-turn wait.
func (s *Session) endSegment(ctx context.Context, at time.Duration) {
	t := s.uturn
	if t == nil || t.ended {
		return
	}
	t.speechEnd = at
	t.speechEndAt = s.m.clock.Now().Add(-(s.in.pos - at))
	if u := s.utt; u != nil {
		s.endUtterance(u)
	}
	if t.overAgent && !t.confirmed {
		return // words decide (judgeOverAgent), not the silence
	}
	t.waiting = true
	s.decide(ctx, t)
}

// decide asks the detector how long the turn's wait lasts, starts the
// preemptive reply when the words are final, and ends the turn if the
// wait is already over.
func (s *Session) decide(ctx context.Context, t *userTurn) {
	if !t.waiting {
		return
	}
	text, final := t.text(), t.final()
	v := s.m.turnDetector().EndOfTurn(TurnInput{
		Text: text, Final: final, MinSilence: s.st.minSilence, Language: s.st.language,
		CompleteDelay: s.st.turn.complete, IncompleteDelay: s.st.turn.incomplete,
	})
	if mx := s.m.turn.MaxEndpointDelay; mx > 0 && v.Wait > mx {
		v.Wait = mx
	}
	t.verdict = v
	t.endAt = t.speechEnd + v.Wait
	if final && text != "" && s.st.turn.preemptive && !t.manual {
		s.startPreemptive(ctx, t, text)
	}
	s.checkTurnEnd(ctx)
}

// checkTurnEnd ends the current turn once its wait is over (called for
// every input frame and after every new verdict).
func (s *Session) checkTurnEnd(ctx context.Context) {
	t := s.uturn
	if t == nil || !t.waiting || s.in.pos < t.endAt {
		return
	}
	s.endTurn(ctx, t, t.verdict.Decision)
}

// endTurn: the turn is judged complete; it is answered once its final
// transcript is in.
func (s *Session) endTurn(ctx context.Context, t *userTurn, decision string) {
	t.waiting, t.ended = false, true
	t.verdict.Decision = decision
	t.delay = max(0, s.in.pos-t.speechEnd)
	if t.manual {
		t.delay = 0
	}
	s.send(TurnEnded{Audio: s.in.pos, EndpointDelay: t.delay, Decision: decision})
	s.m.metrics.endpoint.WithLabelValues(decision).Observe(t.delay.Seconds())
	s.setTurn(turnThinking)
	s.answerTurn(ctx, t)
}

// answerTurn answers an ended turn whose final transcript is complete.
func (s *Session) answerTurn(ctx context.Context, t *userTurn) {
	if !t.ended || !t.final() {
		return
	}
	switch t {
	case s.uturn:
		s.uturn = nil
	case s.finishing:
		s.finishing = nil
	default:
		return
	}
	text := t.text()
	s.send(TranscriptFinal{Text: text})
	s.recordUserText(t.span, text)
	if t.manual {
		t.endSpan(turnCommitted)
		s.dropPreemptive(t)
		s.manualFinal(ctx, text)
		return
	}
	if text == "" {
		t.endSpan(turnNoWords)
		s.dropPreemptive(t)
		s.settle()
		return
	}
	final := t.lastFinal()
	if final.IsZero() {
		final = s.m.clock.Now()
	}
	pre := s.takePreemptive(t, text)
	s.interrupt(ReasonNewInput)
	s.startResponse(withTurn(ctx, t.span), text, turnTimes{
		speechEnd: t.speechEndAt, sttFinal: final, endpointDelay: t.delay, decision: t.verdict.Decision,
	}, pre)
}

// onTurnWords runs when a turn's words change (a partial or a final).
func (s *Session) onTurnWords(ctx context.Context, t *userTurn) {
	if t.overAgent && !t.confirmed {
		s.judgeOverAgent(ctx, t)
		return
	}
	s.decide(ctx, t)
}

// words splits text into lowercase words for counting; a hyphen splits
// too ("uh-huh" and "uh huh" are the same backchannel).
func words(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return r == ' ' || r == '-' || r == ',' || r == '.' || r == '!' || r == '?' || r == ';' || r == ':' || r == '\t' || r == '\n'
	})
}

// substantive counts the words of text that could be a request: not
// backchannels (the configured phrases, wherever they occur whole) and not
// fillers, articles, conjunctions or prepositions (turndetect's function
// words). backchannel reports whether a backchannel phrase was heard.
func (s *Session) substantive(text string) (n int, backchannel bool) {
	w := words(text)
	for i := 0; i < len(w); {
		if k := s.backchannelAt(w, i); k > 0 {
			i += k
			backchannel = true
			continue
		}
		if !turndetect.IsFunctionWord(w[i]) {
			n++
		}
		i++
	}
	return n, backchannel
}

// backchannelAt returns the length in words of a backchannel phrase
// starting at w[i], or 0.
func (s *Session) backchannelAt(w []string, i int) int {
	best := 0
	for _, b := range s.m.turn.Backchannels {
		bw := words(b)
		if len(bw) == 0 || i+len(bw) > len(w) || len(bw) <= best {
			continue
		}
		match := true
		for j := range bw {
			if w[i+j] != bw[j] {
				match = false
				break
			}
		}
		if match {
			best = len(bw)
		}
	}
	return best
}
