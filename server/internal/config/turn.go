package config

import (
	"fmt"
	"strings"
	"time"
)

// Turn-taking defaults.
const (
	defaultSpeechHang               = 240 * time.Millisecond
	defaultCompleteDelay            = 250 * time.Millisecond
	defaultIncompleteDelay          = 1200 * time.Millisecond
	defaultMaxEndpointDelay         = 3 * time.Second
	defaultMinInterruptionWords     = 1
	defaultFalseInterruptionTimeout = time.Second
	defaultPauseAfter               = 150 * time.Millisecond
	// maxInterruptionWords bounds turn.min_interruption_words.
	maxInterruptionWords = 10
	// maxSpeechHang bounds turn.speech_hang: a hang longer than this is an
	// end-of-turn wait, which the detector sets.
	maxSpeechHang = 2 * time.Second
)

// The end-of-turn detectors.
const (
	// DetectorRules reads the words: a short wait when they read as a
	// finished request, a long one when they obviously go on.
	DetectorRules = "rules"
	// DetectorSilence waits vad.min_silence after every speech stop.
	DetectorSilence = "silence"
)

// Turn configures turn-taking: when the user's turn ends and what counts
// as an interruption of the agent.
type Turn struct {
	// Detector is rules or silence.
	Detector string `koanf:"detector"`
	// SpeechHang is the silence after which the VAD reports that speech
	// stopped (vad.speech_stopped); the turn may go on.
	SpeechHang time.Duration `koanf:"speech_hang"`
	// CompleteDelay is the end-of-turn wait after speech stopped when the
	// words read as a finished request; IncompleteDelay when they go on
	// (a trailing "and", "um", "twelve plus"). With no words to judge by,
	// the wait is vad.min_silence (the client's min_silence_ms).
	CompleteDelay   time.Duration `koanf:"complete_delay"`
	IncompleteDelay time.Duration `koanf:"incomplete_delay"`
	// MaxEndpointDelay bounds any detector's wait.
	MaxEndpointDelay time.Duration `koanf:"max_endpoint_delay"`
	// Preemptive starts the LLM as soon as the turn's final transcript is
	// known, before the end-of-turn wait is over; the work is dropped if
	// the user goes on.
	Preemptive bool `koanf:"preemptive"`
	// MinInterruptionWords is how many recognised words (not
	// backchannels) of speech over the agent interrupt it at once.
	MinInterruptionWords int `koanf:"min_interruption_words"`
	// Backchannels are the acknowledgements that never interrupt the
	// agent when they are all the user said (lowercase, matched whole).
	Backchannels []string `koanf:"backchannels"`
	// ResumeFalseInterruption pauses the agent after PauseAfter of voiced
	// sound over it and resumes the reply if that sound yields no words
	// within FalseInterruptionTimeout.
	ResumeFalseInterruption  bool          `koanf:"resume_false_interruption"`
	PauseAfter               time.Duration `koanf:"pause_after"`
	FalseInterruptionTimeout time.Duration `koanf:"false_interruption_timeout"`
}

func defaultTurn() Turn {
	return Turn{
		Detector: DetectorRules, SpeechHang: defaultSpeechHang,
		CompleteDelay: defaultCompleteDelay, IncompleteDelay: defaultIncompleteDelay, MaxEndpointDelay: defaultMaxEndpointDelay,
		Preemptive: true, MinInterruptionWords: defaultMinInterruptionWords,
		Backchannels:            []string{"uh-huh", "mm-hmm", "mhm", "yeah", "yep", "okay", "ok", "right", "i see", "sure"},
		ResumeFalseInterruption: true, FalseInterruptionTimeout: defaultFalseInterruptionTimeout, PauseAfter: defaultPauseAfter,
	}
}

func (c *Config) validateTurn(v *validator) {
	t := c.Turn
	if !oneOf(t.Detector, DetectorRules, DetectorSilence) {
		v.fail("turn.detector", t.Detector, "must be rules or silence")
	}
	v.positive("turn.speech_hang", t.SpeechHang)
	if t.SpeechHang > maxSpeechHang {
		v.fail("turn.speech_hang", t.SpeechHang, "must be at most %s (longer waits belong to the end-of-turn detector)", maxSpeechHang)
	}
	v.positive("turn.complete_delay", t.CompleteDelay)
	v.positive("turn.incomplete_delay", t.IncompleteDelay)
	v.positive("turn.max_endpoint_delay", t.MaxEndpointDelay)
	if t.IncompleteDelay < t.CompleteDelay {
		v.fail("turn.incomplete_delay", t.IncompleteDelay, "must be >= turn.complete_delay (%s)", t.CompleteDelay)
	}
	if t.MaxEndpointDelay < t.IncompleteDelay {
		v.fail("turn.max_endpoint_delay", t.MaxEndpointDelay, "must be >= turn.incomplete_delay (%s)", t.IncompleteDelay)
	}
	if t.MinInterruptionWords < 1 || t.MinInterruptionWords > maxInterruptionWords {
		v.fail("turn.min_interruption_words", t.MinInterruptionWords, "must be within 1..%d", maxInterruptionWords)
	}
	v.positive("turn.pause_after", t.PauseAfter)
	for i, b := range t.Backchannels {
		if strings.TrimSpace(b) == "" || b != strings.ToLower(b) {
			v.fail(fmt.Sprintf("turn.backchannels[%d]", i), b, "must be a non-empty lowercase phrase")
		}
	}
	v.positive("turn.false_interruption_timeout", t.FalseInterruptionTimeout)
}
