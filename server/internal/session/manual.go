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
	if s.utt == nil || s.utt.closing {
		s.startUtterance(ctx, nil)
		if s.utt == nil {
			return
		}
		s.setTurn(turnUserSpeaking)
	}
	s.sttSend(f)
}

func (s *Session) commitInput() {
	u := s.utt
	if !s.st.manualTurns || u == nil || u.closing {
		s.sendError(CodeInvalidField, "nothing to commit: commit needs manual turns and audio since the last commit or clear",
			map[string]string{"field": "commit"})
		return
	}
	u.speechEnd = s.m.clock.Now()
	s.endUtterance(u)
}

func (s *Session) clearInput() {
	if u := s.utt; u != nil && !u.closing {
		u.cancel()
		s.utt = nil
		s.settle()
	}
}

// awaitingCommit reports whether a committed utterance's transcript is
// still to come under manual turns.
func (s *Session) awaitingCommit() bool {
	if !s.st.manualTurns {
		return false
	}
	return (s.utt != nil && s.utt.closing) || s.finishing != nil
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
