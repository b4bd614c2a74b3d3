package session

import (
	"context"
	"strings"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/audio"
)

// Manual turns (Update.ManualTurns, the OpenAI Realtime turn_detection
// null): all input audio goes to one utterance's STT stream until the
// client commits it (CommitInput) or drops it (ClearInput); the VAD
// decides nothing. A committed utterance's transcript joins the history
// unanswered; Respond answers it, waiting for the transcript if needed.

// CommitInput ends the current utterance under manual turns: its final
// transcript follows (TranscriptFinal) and joins the history.
type CommitInput struct{}

// ClearInput drops the audio of the current utterance under manual turns.
type ClearInput struct{}

// manualFrame takes one 16 kHz frame under manual turns.
func (s *Session) manualFrame(ctx context.Context, f *audio.Frame) {
	if s.utt == nil {
		t := s.beginSegment(ctx, nil)
		t.manual, t.overAgent = true, false
		if s.utt == nil {
			return
		}
		s.setTurn(turnUserSpeaking)
	}
	s.sttSend(f)
}

func (s *Session) commitInput(ctx context.Context) {
	t := s.uturn
	if !s.st.manualTurns || t == nil || t.ended || s.utt == nil {
		s.sendError(CodeInvalidField, "nothing to commit: commit needs manual turns and audio since the last commit or clear",
			map[string]string{"field": "commit"})
		return
	}
	s.endUtterance(s.utt)
	t.speechEnd, t.speechEndAt = s.in.pos, s.m.clock.Now()
	s.endTurn(ctx, t, DecisionManual)
}

func (s *Session) clearInput() {
	if t := s.uturn; t != nil && !t.ended {
		t.cancel(s)
		s.uturn, s.utt = nil, nil
		s.settle()
	}
}

// awaitingCommit reports whether a committed utterance's transcript is
// still to come under manual turns.
func (s *Session) awaitingCommit() bool {
	if !s.st.manualTurns {
		return false
	}
	return (s.uturn != nil && s.uturn.ended) || s.finishing != nil
}

// manualFinal records a committed utterance's transcript: into the
// history, and a waiting Respond runs.
func (s *Session) manualFinal(ctx context.Context, text string) {
	if t := strings.TrimSpace(text); t != "" {
		s.hist.append(sdk.Message{Role: sdk.RoleUser, Content: t})
	}
	s.settle()
	if r := s.respondAfter; r != nil && !s.awaitingCommit() {
		s.respondAfter = nil
		s.onCommand(ctx, *r)
	}
}
