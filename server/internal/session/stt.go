package session

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/audio"
)

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
	// attempt is the STT stream whose events count: a stream that failed
	// mid-utterance is replaced and its finals forgotten (see sttFeed).
	attempt int
}

// startUtterance opens a new utterance at speech start, pre-roll first.
func (s *Session) startUtterance(ctx context.Context, preRoll []audio.Frame) {
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
	u := &utterance{audio: make(chan []byte, sttQueueFrames), cancel: cancel, attempt: 1}
	s.utt = u
	for i := range preRoll {
		if !s.sttSend(&preRoll[i]) {
			return
		}
	}
	cfg := sdk.STTConfig{SampleRate: audio.SampleRate, Encoding: sdk.EncodingPCM16LE, Language: s.st.language, InterimResults: true}
	s.wg.Add(1)
	go s.runUtterance(uctx, u, cfg)
}

// endUtterance: the user's speech ended; the final transcript follows.
func (s *Session) endUtterance(u *utterance) {
	u.closing = true
	s.setTurn(turnThinking)
	close(u.audio) // the sender closes the stream after the last frame
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

// runUtterance runs the utterance's STT off the session goroutine, so a
// slow recognizer never delays VAD or barge-in; see sttFeed. Results and
// errors go back to the session goroutine through onTranscript.
func (s *Session) runUtterance(ctx context.Context, u *utterance, cfg sdk.STTConfig) {
	defer s.wg.Done()
	f := &sttFeed{s: s, u: u, cfg: cfg, in: u.audio}
	f.run(ctx)
}

// onTranscript handles one recognizer event (or its end) on the session
// goroutine; the utterance's final text starts the response.
func (s *Session) onTranscript(ctx context.Context, u *utterance, attempt int, ev sdk.TranscriptEvent, err error) {
	if (s.utt != u && s.finishing != u) || attempt != u.attempt {
		return
	}
	switch {
	case err == nil && !ev.Final:
		s.send(TranscriptPartial{Text: ev.Text})
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
		if s.st.manualTurns && u.closing {
			s.manualFinal(ctx, "") // a waiting Respond answers what there is
		}
		return
	}
	if !u.closing {
		return // the stream ended before the end of speech: nothing to answer
	}
	text := strings.Join(u.finals, " ")
	s.send(TranscriptFinal{Text: text})
	if s.st.manualTurns {
		s.manualFinal(ctx, text)
		return
	}
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
