package session

import (
	"encoding/json"
	"time"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/tools"
)

// Sink is where a session's output goes: typed events, audio frames and
// the end of the session. A wire protocol implements it (encoding events
// in its own format); the session never sees bytes of a protocol.
//
// Implementations must be safe for concurrent use and must not block: they
// queue into a bounded buffer and return ErrSendBufferFull when it is full
// (the session then ends with EndSlowConsumer), ErrConnClosed once closed.
type Sink interface {
	// Event queues one event.
	Event(ev Event) error
	// Audio queues one 20 ms frame of PCM16LE mono audio at the session's
	// output sample rate; the Sink owns pcm afterwards (no copy is made).
	Audio(pcm []byte) error
	// Close ends the connection once queued output is out (except for
	// EndSlowConsumer). Only the first call counts.
	Close(reason EndReason, detail string)
}

// Event is one thing a session tells its client: one of the types below.
type Event interface{ isEvent() }

// Established is the first event of every session.
type Established struct {
	SessionID SessionID
	// InputRate and OutputRate are the PCM16 mono sample rates in force.
	InputRate, OutputRate int
	// AwaitingUpdate: audio is refused until the first Update.
	AwaitingUpdate bool
}

// Updated reports the settings in force after an Update.
type Updated struct {
	InputRate, OutputRate int
	Voice, Language       string
	MinSilence, MinSpeech time.Duration
	// ThresholdDB is the VAD threshold in dB above the noise floor.
	ThresholdDB float64
	// Tools are the names of every tool the model is offered.
	Tools []string
	Turn  TurnSettings
	// Recording: the session is being recorded.
	Recording bool
}

// TurnSettings are the session's turn-taking values (TurnUpdate).
type TurnSettings struct {
	CompleteDelay, IncompleteDelay, FalseInterruptionTimeout time.Duration
	MinInterruptionWords                                     int
	ResumeFalseInterruption, Preemptive                      bool
}

// SpeechStarted: the VAD heard the user start; Audio is the onset as an
// offset into the session's input audio.
type SpeechStarted struct{ Audio time.Duration }

// SpeechStopped: the user stopped (after the VAD's hang); Audio is the
// end of the last speech frame as an offset into the input audio. The
// turn may go on: TurnEnded says when it is over.
type SpeechStopped struct{ Audio time.Duration }

// TurnEnded: the user's turn was judged complete; the answer follows once
// its final transcript is in. Audio is the input audio offset at that
// moment, EndpointDelay how long after the end of speech that was, and
// Decision what the turn detector made of the words ("complete",
// "incomplete", "unknown", "silence", "forced", "manual").
type TurnEnded struct {
	Audio, EndpointDelay time.Duration
	Decision             string
}

// Backchannel: the user said only an acknowledgement ("uh-huh", "yeah")
// over the agent's speech; it did not interrupt and is not a turn.
type Backchannel struct{ Text string }

// TranscriptPartial is interim recognised text of the current utterance.
type TranscriptPartial struct{ Text string }

// TranscriptFinal is the whole utterance's text (empty: nothing recognised).
type TranscriptFinal struct{ Text string }

// ResponseStarted: the agent started working on a reply (before any text
// or audio).
type ResponseStarted struct {
	ResponseID string
	// OutOfBand: the response will leave nothing in the history.
	OutOfBand bool
}

// TextDelta is a piece of the reply's text as the LLM produces it.
type TextDelta struct{ ResponseID, Delta string }

// AudioStarted precedes the first audio frame of a response.
type AudioStarted struct {
	ResponseID string
	// SampleRate of the PCM16 mono frames that follow.
	SampleRate int
}

// AudioMark says that the audio of the reply up to End (from the start of
// the response's audio) has been handed to the Sink and that it completes
// a piece of text (a sentence). Transports that learn what the listener
// actually heard (Twilio marks) send it on and report it back with Played.
type AudioMark struct {
	ResponseID string
	End        time.Duration
}

// InterruptReason says why a response was cut off.
type InterruptReason string

// The interrupt reasons.
const (
	ReasonBargeIn      InterruptReason = "barge_in"
	ReasonClientCancel InterruptReason = "client_cancel"
	ReasonNewInput     InterruptReason = "new_input"
)

// ResponseInterrupted ends a response that was cut off: no audio or event
// of it follows. Played is how much of its audio was heard; TextPlayed the
// text that covers (whole words), which is what the history keeps.
//
// Resumable: the agent was paused for user sound not yet known to be
// words; if it yields none (a cough, a door) within the false
// interruption timeout, ResponseResumed follows and the response goes on
// (more audio, then ResponseDone or ResponseInterrupted). If it proves to
// be words (or the session moves on: new input, a cancel), a second
// ResponseInterrupted without Resumable says the interruption is final,
// and the history keeps TextPlayed.
type ResponseInterrupted struct {
	ResponseID string
	Reason     InterruptReason
	Played     time.Duration
	TextPlayed string
	// Usage is the LLM's token count so far, as plugins report it.
	Usage     sdk.Usage
	Resumable bool
}

// ResponseResumed: a resumable interruption was false; the response goes
// on from the first word not heard, re-synthesised (AudioStarted, frames,
// then ResponseDone or ResponseInterrupted). Played and TextPlayed are
// what had been heard when it paused.
type ResponseResumed struct {
	ResponseID string
	Played     time.Duration
	TextPlayed string
}

// ResponseStatus is how a response that was not interrupted ended.
type ResponseStatus string

// The response statuses.
const (
	StatusCompleted ResponseStatus = "completed"
	StatusFailed    ResponseStatus = "failed"
)

// ResponseDone ends a response that was not interrupted; Text is what was
// (or, once queued audio plays, will have been) spoken.
type ResponseDone struct {
	ResponseID string
	Status     ResponseStatus
	Text       string
	// Usage is the LLM's token count over all rounds, as plugins report it
	// (zero when they do not).
	Usage sdk.Usage
}

// ToolCall shows a tool call of the model. For LocationClient the client
// must answer with a ToolResult command; server calls are informational.
type ToolCall struct {
	ResponseID, CallID, Name string
	Arguments                json.RawMessage
	Location                 tools.Location
}

// Metrics are a turn's latencies; a stage that did not happen is nil.
type Metrics struct {
	ResponseID string
	// STTFinal: end of user speech to final transcript.
	STTFinal *time.Duration
	// LLMTTFT: LLM request to first token.
	LLMTTFT *time.Duration
	// TTSTTFA: first text sent to TTS to first audio received.
	TTSTTFA *time.Duration
	// VoiceToVoice: end of user speech to first agent audio sent.
	VoiceToVoice *time.Duration
	// EndpointDelay: end of user speech to the end of the turn (the
	// end-of-turn wait), and TurnDecision the detector's decision (empty
	// for a response that answered no spoken turn).
	EndpointDelay *time.Duration
	TurnDecision  string
	// Preemptive: the LLM was asked before the turn ended.
	Preemptive bool
}

// Error reports a problem to the client; the session goes on.
type Error struct {
	Code    ErrorCode
	Message string
	// Details are stable machine-readable facts (field names, limits);
	// never nil in events the session sends.
	Details map[string]string
	// Retryable: the same request may succeed if tried again (a plugin
	// that was down or rate limited).
	Retryable bool
}

// Pong answers a Ping.
type Pong struct{ ID string }

func (Established) isEvent()         {}
func (Updated) isEvent()             {}
func (SpeechStarted) isEvent()       {}
func (SpeechStopped) isEvent()       {}
func (TurnEnded) isEvent()           {}
func (Backchannel) isEvent()         {}
func (ResponseResumed) isEvent()     {}
func (TranscriptPartial) isEvent()   {}
func (TranscriptFinal) isEvent()     {}
func (ResponseStarted) isEvent()     {}
func (TextDelta) isEvent()           {}
func (AudioStarted) isEvent()        {}
func (AudioMark) isEvent()           {}
func (ResponseInterrupted) isEvent() {}
func (ResponseDone) isEvent()        {}
func (ToolCall) isEvent()            {}
func (Metrics) isEvent()             {}
func (Error) isEvent()               {}
func (Pong) isEvent()                {}

// NewError builds an Error event; details may be nil.
func NewError(code ErrorCode, msg string, details map[string]string) Error {
	if details == nil {
		details = map[string]string{}
	}
	return Error{Code: code, Message: msg, Details: details}
}
