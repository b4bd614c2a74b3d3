package session

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/audio"
)

// STT queue: frames waiting for the recognizer (2 s of audio).
const (
	sttQueueFrames   = 100
	sttQueueDuration = sttQueueFrames * audio.FrameDuration
)

// utterance is one speech segment of a user turn being transcribed: one
// STT stream. Its frames go through audio to the goroutine that owns the
// stream.
type utterance struct {
	turn      *userTurn
	audio     chan []byte
	cancel    context.CancelFunc
	closing   bool
	finals    []string
	partial   string
	lastFinal time.Time
	// done: the stream ended (its finals are all in) or failed.
	done bool
	// attempt is the STT stream whose events count: a stream that failed
	// mid-utterance is replaced and its finals forgotten (see sttFeed).
	attempt int
	// span is the utterance's trace span.
	span trace.Span
}

// words are the segment's recognised words so far: finals, then the
// current partial.
func (u *utterance) words() []string {
	if u.partial == "" || u.done {
		return u.finals
	}
	return append(u.finals[:len(u.finals):len(u.finals)], u.partial)
}

// startUtterance opens a new segment of turn t, pre-roll first.
func (s *Session) startUtterance(ctx context.Context, t *userTurn, preRoll []audio.Frame) {
	if s.utt != nil {
		s.endUtterance(s.utt)
	}
	uctx, span := s.startSTTSpan(ctx, t)
	uctx, cancel := context.WithCancel(uctx)
	u := &utterance{turn: t, audio: make(chan []byte, sttQueueFrames), cancel: cancel, attempt: 1, span: span}
	t.segs = append(t.segs, u)
	s.utt = u
	for i := range preRoll {
		if !s.sttSend(&preRoll[i]) {
			return
		}
	}
	cfg := sdk.STTConfig{SampleRate: audio.SampleRate, Encoding: sdk.EncodingPCM16LE, Language: s.st.language, InterimResults: true, SessionID: string(s.id)}
	s.wg.Add(1)
	go s.runUtterance(uctx, u, cfg)
}

// endUtterance: the segment's speech ended; its final transcript follows.
func (s *Session) endUtterance(u *utterance) {
	if s.utt == u {
		s.utt = nil
	}
	if u.closing || u.done {
		return
	}
	u.closing = true
	close(u.audio) // the sender closes the stream after the last frame
}

// sttSend queues one frame for the current segment's STT stream; false
// (and the segment fails) if the recognizer is too far behind.
func (s *Session) sttSend(f *audio.Frame) bool {
	u := s.utt
	select {
	case u.audio <- f.AppendBytes(make([]byte, 0, audio.FrameBytes)):
		return true
	default:
		u.cancel()
		u.done, u.finals, u.partial = true, nil, ""
		s.utt = nil
		err := sdk.Errorf(sdk.CodeResourceExhausted, "speech recognizer is %s behind", sttQueueDuration)
		s.endSTTSpan(u, err)
		s.pluginError(CodeSTTFailed, err)
		return false
	}
}

// runUtterance runs the utterance's STT off the session goroutine, so a
// slow recognizer never delays VAD or barge-in; see sttFeed. Results and
// errors go back to the session goroutine through onTranscript.
func (s *Session) runUtterance(ctx context.Context, u *utterance, cfg sdk.STTConfig) {
	defer s.wg.Done()
	f := &sttFeed{s: s, u: u, cfg: cfg, in: u.audio}
	f.run(ctx)
}

// onTranscript handles one recognizer event (or its end) on the session
// goroutine: the turn's words change, and once the turn has ended and
// every segment is final, the turn is answered.
func (s *Session) onTranscript(ctx context.Context, u *utterance, attempt int, ev sdk.TranscriptEvent, err error) {
	t := u.turn
	if (s.uturn != t && s.finishing != t) || attempt != u.attempt || u.done {
		return
	}
	switch {
	case err == nil && !ev.Final:
		u.partial = ev.Text
		s.send(TranscriptPartial{Text: t.text()})
		s.onTurnWords(ctx, t)
		return
	case err == nil:
		before := t.text()
		if txt := strings.TrimSpace(ev.Text); txt != "" {
			u.finals = append(u.finals, txt)
		}
		u.partial = ""
		u.lastFinal = s.m.clock.Now()
		if now := t.text(); now != before && now != "" {
			s.send(TranscriptPartial{Text: now}) // the turn's words so far
		}
		s.onTurnWords(ctx, t)
		return
	}
	u.done, u.partial = true, ""
	if s.utt == u {
		s.utt = nil
	}
	u.cancel()
	if errors.Is(err, io.EOF) {
		s.endSTTSpan(u, nil)
	} else {
		s.endSTTSpan(u, err)
		u.finals = nil // the segment failed: nothing of it is answered
		s.pluginError(CodeSTTFailed, err)
		s.settle()
	}
	s.segmentDone(ctx, t)
}

// segmentDone: one of t's segments has all its words.
func (s *Session) segmentDone(ctx context.Context, t *userTurn) {
	switch {
	case t.overAgent && !t.confirmed:
		s.judgeOverAgent(ctx, t)
	case t.ended:
		s.answerTurn(ctx, t)
	default:
		s.decide(ctx, t)
	}
}
