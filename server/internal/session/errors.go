package session

import "errors"

// ErrSessionLimit is returned by Manager.Reserve when the global number of
// sessions (config.Session.MaxSessions) is reached.
var ErrSessionLimit = errors.New("session: server session limit reached")

// ErrIPLimit is returned by Manager.Reserve when the client IP already holds
// config.Session.MaxSessionsPerIP sessions.
var ErrIPLimit = errors.New("session: per-client-IP session limit reached")

// ErrOverloaded is returned by Manager.Reserve when the memory guard reports
// overload.
var ErrOverloaded = errors.New("session: server overloaded")

// ErrDraining is returned by Manager.Reserve once Drain has started.
var ErrDraining = errors.New("session: server is draining")

// ErrSessionIDInUse is returned by Manager.Start for a requested session
// id that a running session has.
var ErrSessionIDInUse = errors.New("session: session id in use")

// ErrBadSessionID is returned by Manager.Start for a requested session id
// that is not of the form sess_ + 24 hex digits.
var ErrBadSessionID = errors.New("session: malformed session id")

// ErrReservationUsed is returned by Manager.Start for a reservation that was
// already started or released.
var ErrReservationUsed = errors.New("session: reservation already used")

// ErrSendBufferFull is what a Sink returns when its bounded send buffer is
// full: the client does not read fast enough and the session ends.
var ErrSendBufferFull = errors.New("session: send buffer full")

// ErrConnClosed is what a Sink returns once it is closed, and what the
// session's Handle methods return once the session has ended.
var ErrConnClosed = errors.New("session: connection closed")

// ErrorCode is the stable code of an Error event. Wire protocols add codes
// of their own (malformed messages) of this type.
type ErrorCode string

// The session's error codes: stable, documented with each protocol.
const (
	// CodeUnsupportedSampleRate: a sample rate the session cannot convert.
	CodeUnsupportedSampleRate ErrorCode = "unsupported_sample_rate"
	// CodeSessionNotReady: audio before the first Update (AwaitUpdate).
	CodeSessionNotReady ErrorCode = "session_not_ready"
	// CodeOddLengthAudio: audio that is not whole PCM16 samples.
	CodeOddLengthAudio ErrorCode = "odd_length_audio"
	// CodeInvalidField: a setting out of the server's limits.
	CodeInvalidField ErrorCode = "invalid_field"
	// CodeUnknownToolCall: a tool result for no pending client tool call.
	CodeUnknownToolCall ErrorCode = "unknown_tool_call"
	// CodeUnknownResponse: a command names a response the session does
	// not have (or no longer keeps).
	CodeUnknownResponse ErrorCode = "unknown_response"
	// CodeSTTFailed, CodeLLMFailed, CodeTTSFailed: a plugin call failed;
	// that turn fails, the session goes on.
	CodeSTTFailed ErrorCode = "stt_failed"
	CodeLLMFailed ErrorCode = "llm_failed"
	CodeTTSFailed ErrorCode = "tts_failed"
	// CodeLLMInterrupted: the model failed after part of its answer was
	// spoken; the reply ends at what was said.
	CodeLLMInterrupted ErrorCode = "llm_interrupted"
	// CodeToolFailed: a tool call failed (the model is told why).
	CodeToolFailed ErrorCode = "tool_failed"
	// CodeToolTimeout: a client tool did not answer in time.
	CodeToolTimeout ErrorCode = "tool_timeout"
	// CodeToolRoundsExceeded: the model kept calling tools.
	CodeToolRoundsExceeded ErrorCode = "tool_rounds_exceeded"
	// CodeRecordingDisabled: the client asked to be recorded on a server
	// where recording is off; nothing else of the update is applied.
	CodeRecordingDisabled ErrorCode = "recording_disabled"
	// CodeRecordingFailed: the session's recording failed (a disk error);
	// the call goes on unrecorded.
	CodeRecordingFailed ErrorCode = "recording_failed"
	// Admission refusals (RefusalCode).
	CodeSessionLimit ErrorCode = "session_limit"
	CodeIPLimit      ErrorCode = "ip_limit"
	CodeOverloaded   ErrorCode = "overloaded"
	CodeDraining     ErrorCode = "draining"
	// CodeInternal: an unexpected server error.
	CodeInternal ErrorCode = "internal"
)

// clientMessage is the short, fixed message of an error code whose cause
// is internal (a plugin failure): the cause itself is only logged.
func clientMessage(code ErrorCode) string {
	switch code {
	case CodeSTTFailed:
		return "speech recognition failed; please say that again"
	case CodeLLMFailed:
		return "the assistant could not answer"
	case CodeLLMInterrupted:
		return "the answer was cut short"
	case CodeTTSFailed:
		return "speech synthesis failed"
	case CodeRecordingFailed:
		return "the recording of this session failed; the call goes on unrecorded"
	}
	return "internal server error"
}

// EndReason is why a session ended. Each wire protocol maps it to its own
// close codes (parley.v1: WebSocket close codes).
type EndReason int

// The end reasons.
const (
	// EndNormal: the client left.
	EndNormal EndReason = iota
	// EndShutdown: the server is draining (shutdown or redeploy).
	EndShutdown
	// EndPolicyViolation: the client broke a rule (message rate).
	EndPolicyViolation
	// EndMessageTooBig: a message far beyond the maximum size.
	EndMessageTooBig
	// EndInternal: an unexpected server error.
	EndInternal
	// EndTryAgainLater: refused after the connection was accepted (limits).
	EndTryAgainLater
	// EndSlowConsumer: the client did not read fast enough.
	EndSlowConsumer
	// EndIdle: no client traffic for the idle timeout (or no keep-alive answer).
	EndIdle
	// EndByAgent: the agent ended the conversation (the end_session tool).
	EndByAgent
	// EndByOperator: an operator ended it (DELETE /v1/sessions/{id}).
	EndByOperator
	// EndMaxDuration: the session reached the maximum duration its client
	// token allows.
	EndMaxDuration
)

// String names the reason in logs.
func (r EndReason) String() string {
	names := [...]string{"normal", "shutdown", "policy_violation", "message_too_big", "internal", "try_again_later", "slow_consumer", "idle", "by_agent", "by_operator", "max_duration"}
	if r < 0 || int(r) >= len(names) {
		return "unknown"
	}
	return names[r]
}
