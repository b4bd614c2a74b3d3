package session

import (
	"context"
	"errors"
	"strings"
)

// User speech over the agent (TurnTaking):
//
//   - recognised words that are not backchannels — at least
//     MinInterruptionWords of them — interrupt at once;
//   - PauseAfter of speech pauses the reply at once (its audio stops,
//     the client is told it was interrupted, resumable); the pipeline runs
//     on without sending, so the reply's text gets finished;
//   - the final words then confirm the interruption (the pause stays the
//     cut, and the speech is the user's turn); a sound that yields no words within
//     FalseInterruptionTimeout of its end, or only backchannels, resumes
//     the reply from the first word not heard, re-synthesised;
//   - words that a slow recognizer gives after that resume still
//     interrupt (the resumed reply is cut where it is) and are the
//     user's turn.
//
// Without ResumeFalseInterruption (or with StartParams.NoResume),
// interrupt_after of speech interrupts for good, as before.

// Pause outcomes (metric label values).
const (
	pauseResumed     = "resumed"
	pauseInterrupted = "interrupted"
)

func (s *Session) resumable() bool {
	return s.st.turn.resume && !s.noResume
}

// checkBargeIn pauses or interrupts the agent once the user has spoken
// over it for interrupt_after.
func (s *Session) checkBargeIn(speaking bool) {
	r, t := s.resp, s.uturn
	if !speaking || r == nil || r.paused {
		return
	}
	voiced := s.in.voicedDuration()
	if t != nil {
		voiced = max(voiced, t.voiced)
	}
	if t != nil && t.overAgent && !t.confirmed && s.resumable() {
		if voiced >= s.m.turn.PauseAfter {
			s.pause(r)
		}
		return
	}
	if voiced < s.m.cfg.InterruptAfter {
		return
	}
	s.interrupt(ReasonBargeIn)
	if t != nil {
		t.overAgent, t.confirmed = false, true
	}
	s.setTurn(turnUserSpeaking)
}

// pause stops the reply's audio and tells the client (resumable).
func (s *Session) pause(r *response) {
	played := r.out.pause()
	r.paused, r.pausedPlayed = true, played
	spoken := r.out.textPlayed(r.fullText(), played)
	s.log.Info("response paused", "response_id", r.id, "played", played.String())
	s.send(ResponseInterrupted{
		ResponseID: r.id, Reason: ReasonBargeIn, Played: played, TextPlayed: spoken, Usage: r.usageNow(), Resumable: true,
	})
	s.setTurn(turnUserSpeaking)
}

// judgeOverAgent decides, from its words, what speech over the agent is:
// an interruption, a backchannel, or nothing (a sound).
func (s *Session) judgeOverAgent(ctx context.Context, t *userTurn) {
	r := s.resp
	if r == nil {
		// The agent finished meanwhile: an ordinary turn.
		s.confirm(ctx, t)
		return
	}
	n, bc := s.substantive(t.text())
	switch mw := s.st.turn.minWords; {
	case r.paused && !t.final():
		// The audio already stopped: judge by the final words, not by a
		// partial that a recognizer may take back ("i" → "").
		return
	case (mw > 0 && n >= mw) || (r.paused && n > 0):
		s.confirm(ctx, t)
		return
	case !t.final():
		return // more words may come
	}
	if bc {
		s.send(Backchannel{Text: t.text()})
		s.m.metrics.backchannels.Inc()
	}
	s.dropTurn(t)
	if r.paused {
		s.resumeResponse(ctx, r)
	}
	s.settle()
}

// confirm makes speech over the agent the user's turn: a paused reply
// stays cut where it paused, a playing one is interrupted.
func (s *Session) confirm(ctx context.Context, t *userTurn) {
	t.overAgent, t.confirmed = false, true
	if s.resp != nil {
		s.interrupt(ReasonBargeIn)
	}
	if s.utt != nil && s.utt.turn == t {
		s.setTurn(turnUserSpeaking)
		return
	}
	// Its speech already stopped: the end-of-turn wait runs from there.
	t.waiting = true
	s.decide(ctx, t)
}

// checkFalseInterruption resumes a paused reply once the sound that
// paused it stopped FalseInterruptionTimeout ago without a word.
func (s *Session) checkFalseInterruption(ctx context.Context) {
	r, t := s.resp, s.uturn
	if r == nil || !r.paused || r.resumeWanted {
		return
	}
	if t != nil && (!t.overAgent || t.confirmed || s.utt != nil || s.in.pos < t.speechEnd+s.st.turn.falseTimeout) {
		return
	}
	if t != nil && t.final() {
		s.dropTurn(t)
	}
	// A recognizer slower than the timeout still has the sound's final
	// words to give: the turn is kept, and words that come interrupt the
	// resumed reply (judgeOverAgent) — a question said over the agent is
	// never lost to a slow recognizer.
	s.resumeResponse(ctx, r)
	s.settle()
}

// dropTurn forgets the current turn (it was not one).
func (s *Session) dropTurn(t *userTurn) {
	t.cancel(s)
	if s.uturn == t {
		s.uturn, s.utt = nil, nil
	}
}

// resumeResponse goes on with a paused reply from the first word not
// heard, once its text is all written.
func (s *Session) resumeResponse(ctx context.Context, r *response) {
	if !r.paused {
		return
	}
	if !r.finished {
		r.resumeWanted = true
		return
	}
	r.paused, r.resumeWanted, r.finished = false, false, false
	s.m.metrics.pauses.WithLabelValues(pauseResumed).Inc()
	full := r.fullText()
	cut := len(r.out.textPlayed(full, r.pausedPlayed))
	for cut < len(full) && isSpace(full[cut]) {
		cut++
	}
	ev := ResponseResumed{ResponseID: r.id, Played: r.pausedPlayed, TextPlayed: strings.TrimSpace(full[:cut])}
	if !r.out.resume(cut, ev) {
		return
	}
	s.log.Info("response resumed", "response_id", r.id, "from_byte", cut)
	if err := r.finishErr; err != nil || strings.TrimSpace(full[cut:]) == "" {
		r.finishErr = nil
		s.finishResponse(ctx, r, err)
		return
	}
	r.cancel()
	rctx, cancel := context.WithCancel(ctx)
	r.cancel = cancel
	s.setTurn(turnThinking)
	s.wg.Add(1)
	go r.runFrom(rctx, cut)
}

// runFrom is the goroutine of a resumed reply: its text from byte from on
// is synthesised and paced out.
func (r *response) runFrom(parent context.Context, from int) {
	defer r.s.wg.Done()
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	err := r.speakFrom(ctx, cancel, from)
	if cause := context.Cause(ctx); err != nil && cause != nil && parent.Err() == nil {
		var te *turnError
		if errors.As(cause, &te) {
			err = te
		}
	}
	if parent.Err() != nil {
		return
	}
	r.s.postAsync(func(ctx context.Context) { r.s.finishResponse(ctx, r, err) })
}
