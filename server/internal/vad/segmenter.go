package vad

import (
	"time"

	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/config"
)

// EventType says what changed.
type EventType int

// The events a Segmenter reports.
const (
	// None: no change.
	None EventType = iota
	// SpeechStarted: speech has lasted MinSpeech.
	SpeechStarted
	// SpeechStopped: silence has lasted MinSilence (end of turn), or
	// speech has lasted MaxUtterance (Result.Forced).
	SpeechStopped
)

// String names the event.
func (e EventType) String() string {
	switch e {
	case None:
		return "none"
	case SpeechStarted:
		return "speech_started"
	case SpeechStopped:
		return "speech_stopped"
	default:
		return "unknown"
	}
}

// Result is what Segmenter.Process reports for one frame.
type Result struct {
	// Event is what changed with this frame.
	Event EventType
	// At is the stream offset of the event: for SpeechStarted the onset of
	// the speech run (not the moment MinSpeech was reached), for
	// SpeechStopped the end of the last speech frame.
	At time.Duration
	// Speaking is true while the segmenter is in the speech state (after
	// SpeechStarted, until SpeechStopped).
	Speaking bool
	// Forced, on SpeechStopped only, says the stop was forced by the
	// max-utterance guard: speech had lasted MaxUtterance and the detector
	// still heard speech. The turn should end at once; At is the end of
	// this frame.
	Forced bool
	// PreRoll, on SpeechStarted only, holds copies of the frames from
	// PreRoll before the onset up to and including this frame, in order, to
	// be sent to STT first so first syllables are not lost. Otherwise nil.
	PreRoll []audio.Frame
}

// Segmenter turns per-frame decisions into speech start/stop events using
// MinSpeech (speech needed before SpeechStarted), MinSilence (silence
// needed before SpeechStopped = end of turn), MaxUtterance and PreRoll. The
// stream offset advances FrameDuration per processed frame.
//
// The max-utterance guard: a speech run that has lasted MaxUtterance ends
// with a forced SpeechStopped (Result.Forced), so babble or a steady noise
// that the detector takes for speech cannot hold a turn open forever. After
// a forced stop no speech starts again until the detector has reported
// RearmSilence of non-speech: the same noise does not open the next turn at
// once, while a talker who goes on after a breath does.
type Segmenter struct {
	det           Detector
	minSpeech     int
	minSilence    int
	maxUtterance  int
	preRollFrames int
	// rearm counts the non-speech frames still needed after a forced stop
	// before speech may start again (0 = armed).
	rearm int

	// frame is the index of the next frame.
	frame    int64
	speaking bool
	// run is the length of the current speech run while not speaking
	// (frames); silence is the trailing silence while speaking.
	run     int
	silence int
	// onset is the index of the first frame of the current speech run.
	onset int64

	// ring keeps the last len(ring) frames: PreRoll before a run's onset
	// plus the MinSpeech frames of the run (at least; SetMinSpeech never
	// shrinks it).
	ring []audio.Frame
}

// RearmSilence is the non-speech the detector must report after a forced
// stop before speech may start again: a breath between sentences is
// longer, the gaps in babble or a steady noise are not.
const RearmSilence = 200 * time.Millisecond

// NewSegmenter returns a segmenter over d with cfg's MinSpeech, MinSilence,
// MaxUtterance and PreRoll (rounded up to whole frames; MinSpeech and
// MinSilence at least one frame; MaxUtterance 0 turns the guard off, which
// only tests do: config.VAD requires at least a second).
func NewSegmenter(d Detector, cfg config.VAD) *Segmenter {
	s := &Segmenter{
		det:           d,
		minSpeech:     framesCeil(cfg.MinSpeech, 1),
		minSilence:    framesCeil(cfg.MinSilence, 1),
		maxUtterance:  framesCeil(cfg.MaxUtterance, 0),
		preRollFrames: framesCeil(cfg.PreRoll, 0),
	}
	s.ring = make([]audio.Frame, s.preRollFrames+s.minSpeech)
	return s
}

// framesCeil converts d to whole frames, rounding up, at least atLeast.
func framesCeil(d time.Duration, atLeast int) int {
	n := int((d + audio.FrameDuration - 1) / audio.FrameDuration)
	return max(n, atLeast)
}

// Process runs the detector on f and reports what changed.
func (s *Segmenter) Process(f *audio.Frame) Result {
	idx := s.frame
	s.frame++
	s.ring[idx%int64(len(s.ring))] = *f
	speech := s.det.IsSpeech(f)

	if !s.speaking {
		if !speech {
			s.run = 0
			s.rearm = max(s.rearm-1, 0)
			return Result{}
		}
		if s.rearm > 0 {
			// Still the sound that was cut off: no new turn yet.
			s.rearm = framesCeil(RearmSilence, 1)
			return Result{}
		}
		if s.run == 0 {
			s.onset = idx
		}
		s.run++
		if s.run < s.minSpeech {
			return Result{}
		}
		s.speaking, s.silence = true, 0
		return Result{Event: SpeechStarted, At: offset(s.onset), Speaking: true, PreRoll: s.preRoll(idx)}
	}
	if speech {
		s.silence = 0
		if s.maxUtterance > 0 && idx+1-s.onset >= int64(s.maxUtterance) {
			s.speaking, s.run = false, 0
			s.rearm = framesCeil(RearmSilence, 1)
			return Result{Event: SpeechStopped, At: offset(idx + 1), Forced: true}
		}
		return Result{Speaking: true}
	}
	s.silence++
	if s.silence < s.minSilence {
		return Result{Speaking: true}
	}
	s.speaking, s.run = false, 0
	lastSpeech := idx - int64(s.silence) // index of the last speech frame
	return Result{Event: SpeechStopped, At: offset(lastSpeech + 1)}
}

// preRoll copies the frames from PreRoll before the onset to idx.
func (s *Segmenter) preRoll(idx int64) []audio.Frame {
	first := max(s.onset-int64(s.preRollFrames), 0, idx-int64(len(s.ring))+1)
	out := make([]audio.Frame, 0, idx-first+1)
	for i := first; i <= idx; i++ {
		out = append(out, s.ring[i%int64(len(s.ring))])
	}
	return out
}

// offset is the stream offset of the start of frame i.
func offset(i int64) time.Duration { return time.Duration(i) * audio.FrameDuration }

// SetMinSilence changes the end-of-turn silence (session.update); the
// caller validates it against config limits. It applies from the next
// frame, also to a silence already under way.
func (s *Segmenter) SetMinSilence(d time.Duration) { s.minSilence = framesCeil(d, 1) }

// SetMinSpeech changes the speech needed before SpeechStarted
// (session.update); the caller validates it against config limits. It
// applies from the next frame, also to a speech run under way (a run that
// is already as long starts speech with its next speech frame). The pre-roll
// ring only grows, here and keeping the frames it holds, so a run under way
// keeps its pre-roll and Process still allocates nothing.
func (s *Segmenter) SetMinSpeech(d time.Duration) {
	s.minSpeech = framesCeil(d, 1)
	need := s.preRollFrames + s.minSpeech
	if need <= len(s.ring) {
		return
	}
	ring := make([]audio.Frame, need)
	for i := max(s.frame-int64(len(s.ring)), 0); i < s.frame; i++ {
		ring[i%int64(need)] = s.ring[i%int64(len(s.ring))]
	}
	s.ring = ring
}

// MinSpeech is the current speech needed before SpeechStarted, rounded to
// frames.
func (s *Segmenter) MinSpeech() time.Duration {
	return time.Duration(s.minSpeech) * audio.FrameDuration
}

// MinSilence is the current end-of-turn silence, rounded to frames.
func (s *Segmenter) MinSilence() time.Duration {
	return time.Duration(s.minSilence) * audio.FrameDuration
}

// SpeechDuration is how long the current speech run has lasted, from its
// onset to the end of the last processed frame (0 when not speaking).
func (s *Segmenter) SpeechDuration() time.Duration {
	if !s.speaking {
		return 0
	}
	return offset(s.frame - s.onset)
}

// Offset is the stream offset after the frames processed so far.
func (s *Segmenter) Offset() time.Duration { return offset(s.frame) }

// Speaking reports whether the segmenter is in the speech state.
func (s *Segmenter) Speaking() bool { return s.speaking }

// Reset starts a new stream: offset 0, not speaking, detector reset.
func (s *Segmenter) Reset() {
	s.frame, s.speaking, s.run, s.silence, s.onset, s.rearm = 0, false, 0, 0, 0, 0
	s.det.Reset()
}
