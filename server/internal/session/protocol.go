package session

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
)

// ProtocolVersion names the client protocol spoken on /ws/voice and the
// WebRTC data channel.
const ProtocolVersion = "parley.v1"

// The sample rates (Hz) a client may declare.
const (
	Rate8k  = 8000
	Rate16k = 16000
	Rate24k = 24000
	Rate48k = 48000
)

// SupportedSampleRate reports whether a client may declare rate (Hz) for its
// input or output audio: 8000, 16000, 24000 or 48000.
func SupportedSampleRate(rate int) bool {
	switch rate {
	case Rate8k, Rate16k, Rate24k, Rate48k:
		return true
	}
	return false
}

// maxToolNameLen bounds a client tool name (providers accept 64).
const maxToolNameLen = 64

// toolNamePattern is what providers accept as a tool name.
var toolNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// CloseCode is a WebSocket close code a session ends with. Transports that
// have no close codes (WebRTC) report it in their own way.
type CloseCode int

// The close codes. 4000-4999 are Parley's own.
const (
	// CloseNormal: the session ended normally (client left, end_session tool).
	CloseNormal CloseCode = 1000
	// CloseGoingAway: the server is draining (shutdown or redeploy).
	CloseGoingAway CloseCode = 1001
	// ClosePolicyViolation: the client sent more messages per second than allowed.
	ClosePolicyViolation CloseCode = 1008
	// CloseMessageTooBig: a message was far beyond the maximum size.
	CloseMessageTooBig CloseCode = 1009
	// CloseInternalError: an unexpected server error.
	CloseInternalError CloseCode = 1011
	// CloseTryAgainLater: admission refused after the upgrade (limits).
	CloseTryAgainLater CloseCode = 1013
	// CloseSlowConsumer: the client did not read fast enough and the bounded
	// send buffer filled up.
	CloseSlowConsumer CloseCode = 4001
	// CloseIdleTimeout: no client traffic for config.Session.IdleTimeout.
	CloseIdleTimeout CloseCode = 4002
)

// ErrorCode is the stable `code` of an `error` event.
type ErrorCode string

// The error codes sent in `error` events (and in HTTP refusal bodies).
const (
	CodeInvalidJSON           ErrorCode = "invalid_json"
	CodeUnknownType           ErrorCode = "unknown_type"
	CodeInvalidMessage        ErrorCode = "invalid_message"
	CodeOddLengthAudio        ErrorCode = "odd_length_audio"
	CodeMessageTooLarge       ErrorCode = "message_too_large"
	CodeUnsupportedSampleRate ErrorCode = "unsupported_sample_rate"
	CodeSessionNotReady       ErrorCode = "session_not_ready"
	CodeUnknownToolCall       ErrorCode = "unknown_tool_call"
	CodeInvalidField          ErrorCode = "invalid_field"
	CodeSTTFailed             ErrorCode = "stt_failed"
	CodeLLMFailed             ErrorCode = "llm_failed"
	CodeTTSFailed             ErrorCode = "tts_failed"
	CodeToolFailed            ErrorCode = "tool_failed"
	CodeToolTimeout           ErrorCode = "tool_timeout"
	CodeToolRoundsExceeded    ErrorCode = "tool_rounds_exceeded"
	CodeSessionLimit          ErrorCode = "session_limit"
	CodeIPLimit               ErrorCode = "ip_limit"
	CodeOverloaded            ErrorCode = "overloaded"
	CodeDraining              ErrorCode = "draining"
	CodeInternal              ErrorCode = "internal"
)

// ProtocolError is a client mistake reported in an `error` event.
type ProtocolError struct {
	Code    ErrorCode
	Message string
	Details map[string]string
}

// Error implements error.
func (e *ProtocolError) Error() string { return string(e.Code) + ": " + e.Message }

func protoErr(code ErrorCode, msg string, details map[string]string) *ProtocolError {
	return &ProtocolError{Code: code, Message: msg, Details: details}
}

// The client message types.
const (
	TypeSessionUpdate  = "session.update"
	TypeInputText      = "input.text"
	TypeResponseCancel = "response.cancel"
	TypeToolResult     = "tool.result"
	TypePing           = "ping"
)

// The server event types.
const (
	TypeConnectionEstablished = "connection_established"
	TypeSessionUpdated        = "session.updated"
	TypeSpeechStarted         = "vad.speech_started"
	TypeSpeechStopped         = "vad.speech_stopped"
	TypeTranscriptPartial     = "transcript.partial"
	TypeTranscriptFinal       = "transcript.final"
	TypeTextDelta             = "response.text.delta"
	TypeAudioStarted          = "response.audio.started"
	TypeResponseDone          = "response.done"
	TypeResponseInterrupted   = "response.interrupted"
	TypeToolCall              = "tool.call"
	TypeMetrics               = "metrics"
	TypeError                 = "error"
	TypePong                  = "pong"
)

// ClientMessage is one parsed client message: *SessionUpdate, *InputText,
// *ResponseCancel, *ToolResult or *Ping.
type ClientMessage interface {
	// MessageType returns the message's `type`.
	MessageType() string
}

// VADUpdate narrows voice activity detection within the server's limits.
type VADUpdate struct {
	// MinSilenceMS is the end-of-turn silence in milliseconds.
	MinSilenceMS *int `json:"min_silence_ms,omitempty"`
	// MinSpeechMS is the speech needed before vad.speech_started, in
	// milliseconds.
	MinSpeechMS *int `json:"min_speech_ms,omitempty"`
	// ThresholdDB is the speech threshold in dB above the noise floor.
	ThresholdDB *float64 `json:"threshold_db,omitempty"`
}

// ToolDefinition declares a client-side tool: the model may call it, the
// client runs it and answers with `tool.result`.
type ToolDefinition struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
}

// SessionUpdate changes session settings. Absent fields keep their value.
type SessionUpdate struct {
	InputSampleRate  *int             `json:"input_sample_rate,omitempty"`
	OutputSampleRate *int             `json:"output_sample_rate,omitempty"`
	SystemPrompt     *string          `json:"system_prompt,omitempty"`
	Voice            *string          `json:"voice,omitempty"`
	Language         *string          `json:"language,omitempty"`
	Tools            []ToolDefinition `json:"tools,omitempty"`
	VAD              *VADUpdate       `json:"vad,omitempty"`
}

// InputText is typed user input; it skips STT.
type InputText struct {
	Text string `json:"text"`
}

// ResponseCancel stops the agent's current response.
type ResponseCancel struct{}

// ToolResult answers a client-side `tool.call`.
type ToolResult struct {
	CallID string `json:"call_id"`
	// Output is any JSON value; a string is passed to the model as is,
	// anything else as its JSON text.
	Output  json.RawMessage `json:"output,omitempty"`
	IsError bool            `json:"is_error,omitempty"`
}

// Ping asks for a `pong` carrying the same id.
type Ping struct {
	ID string `json:"id,omitempty"`
}

// MessageType implements ClientMessage.
func (*SessionUpdate) MessageType() string { return TypeSessionUpdate }

// MessageType implements ClientMessage.
func (*InputText) MessageType() string { return TypeInputText }

// MessageType implements ClientMessage.
func (*ResponseCancel) MessageType() string { return TypeResponseCancel }

// MessageType implements ClientMessage.
func (*ToolResult) MessageType() string { return TypeToolResult }

// MessageType implements ClientMessage.
func (*Ping) MessageType() string { return TypePing }

// OutputText returns the tool output as the text given to the model.
func (r *ToolResult) OutputText() string {
	out := bytes.TrimSpace(r.Output)
	if len(out) == 0 || bytes.Equal(out, []byte("null")) {
		return ""
	}
	var s string
	if out[0] == '"' && json.Unmarshal(out, &s) == nil {
		return s
	}
	return string(out)
}

// ParseClientMessage parses one JSON text message of the client protocol.
// Errors are *ProtocolError with a stable code. Unknown fields are ignored
// (forward compatibility); wrong field types are not.
func ParseClientMessage(data []byte) (ClientMessage, error) {
	var head struct {
		Type *string `json:"type"`
	}
	if !json.Valid(data) {
		return nil, protoErr(CodeInvalidJSON, "message is not valid JSON", nil)
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fieldError(err)
	}
	if head.Type == nil {
		return nil, protoErr(CodeInvalidMessage, "missing field: type", map[string]string{"field": "type"})
	}
	var msg ClientMessage
	switch *head.Type {
	case TypeSessionUpdate:
		msg = &SessionUpdate{}
	case TypeInputText:
		msg = &InputText{}
	case TypeResponseCancel:
		msg = &ResponseCancel{}
	case TypeToolResult:
		msg = &ToolResult{}
	case TypePing:
		msg = &Ping{}
	default:
		return nil, protoErr(CodeUnknownType, "unknown message type", map[string]string{"type": *head.Type})
	}
	if err := json.Unmarshal(data, msg); err != nil {
		return nil, fieldError(err)
	}
	if err := validate(msg); err != nil {
		return nil, err
	}
	return msg, nil
}

// fieldError turns a json decoding error into a ProtocolError.
func fieldError(err error) *ProtocolError {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "(message)"
		}
		return protoErr(CodeInvalidMessage, fmt.Sprintf("field %s: expected %s, got %s", field, te.Type, te.Value),
			map[string]string{"field": field, "expected": te.Type.String(), "got": te.Value})
	}
	return protoErr(CodeInvalidMessage, "malformed message: "+err.Error(), nil)
}

func validate(msg ClientMessage) *ProtocolError {
	switch m := msg.(type) {
	case *SessionUpdate:
		return validateUpdate(m)
	case *InputText:
		if m.Text == "" {
			return protoErr(CodeInvalidMessage, "input.text needs a non-empty text", map[string]string{"field": "text"})
		}
	case *ToolResult:
		if m.CallID == "" {
			return protoErr(CodeInvalidMessage, "tool.result needs a call_id", map[string]string{"field": "call_id"})
		}
	}
	return nil
}

func validateUpdate(m *SessionUpdate) *ProtocolError {
	for field, rate := range map[string]*int{"input_sample_rate": m.InputSampleRate, "output_sample_rate": m.OutputSampleRate} {
		if rate != nil && !SupportedSampleRate(*rate) {
			return protoErr(CodeUnsupportedSampleRate, fmt.Sprintf("%s %d Hz is not supported (8000, 16000, 24000, 48000)", field, *rate),
				map[string]string{"field": field, "value": strconv.Itoa(*rate)})
		}
	}
	seen := make(map[string]bool, len(m.Tools))
	for i, t := range m.Tools {
		field := fmt.Sprintf("tools[%d]", i)
		if len(t.Name) > maxToolNameLen || !toolNamePattern.MatchString(t.Name) {
			return protoErr(CodeInvalidField, "tool name must match [a-zA-Z0-9_-]{1,64}", map[string]string{"field": field + ".name"})
		}
		if seen[t.Name] {
			return protoErr(CodeInvalidField, "duplicate tool name "+t.Name, map[string]string{"field": field + ".name"})
		}
		seen[t.Name] = true
		if len(t.Parameters) > 0 {
			p := bytes.TrimSpace(t.Parameters)
			if len(p) == 0 || p[0] != '{' {
				return protoErr(CodeInvalidField, "tool parameters must be a JSON Schema object", map[string]string{"field": field + ".parameters"})
			}
		}
	}
	return m.VAD.validate()
}

// validate refuses values no server limit can allow; the session checks
// the configured limits.
func (u *VADUpdate) validate() *ProtocolError {
	if u == nil {
		return nil
	}
	if u.MinSilenceMS != nil && *u.MinSilenceMS < 0 {
		return protoErr(CodeInvalidField, "vad.min_silence_ms must not be negative", map[string]string{"field": "vad.min_silence_ms"})
	}
	if u.MinSpeechMS != nil && *u.MinSpeechMS < 0 {
		return protoErr(CodeInvalidField, "vad.min_speech_ms must not be negative", map[string]string{"field": "vad.min_speech_ms"})
	}
	if u.ThresholdDB != nil && *u.ThresholdDB <= 0 {
		return protoErr(CodeInvalidField, "vad.threshold_db must be positive", map[string]string{"field": "vad.threshold_db"})
	}
	return nil
}

// AudioFormat describes a PCM stream in events.
type AudioFormat struct {
	Encoding   string `json:"encoding"`
	SampleRate int    `json:"sample_rate"`
	Channels   int    `json:"channels"`
}

func pcmFormat(rate int) AudioFormat {
	return AudioFormat{Encoding: "pcm16le", SampleRate: rate, Channels: 1}
}

// ConnectionEstablished is the first event of every session.
type ConnectionEstablished struct {
	Type              string      `json:"type"`
	SessionID         SessionID   `json:"session_id"`
	Protocol          string      `json:"protocol"`
	InputAudioFormat  AudioFormat `json:"input_audio_format"`
	OutputAudioFormat AudioFormat `json:"output_audio_format"`
	// AwaitingUpdate is true when audio is refused until the first session.update.
	AwaitingUpdate bool `json:"awaiting_update"`
}

// SessionUpdated reports the settings in force after a session.update.
type SessionUpdated struct {
	Type              string      `json:"type"`
	InputAudioFormat  AudioFormat `json:"input_audio_format"`
	OutputAudioFormat AudioFormat `json:"output_audio_format"`
	Voice             string      `json:"voice"`
	Language          string      `json:"language"`
	MinSilenceMS      int64       `json:"min_silence_ms"`
	MinSpeechMS       int64       `json:"min_speech_ms"`
	ThresholdDB       float64     `json:"threshold_db"`
	Tools             []string    `json:"tools"`
}

// SpeechEvent is vad.speech_started (AudioMS = onset) or vad.speech_stopped
// (AudioMS = end of the last speech frame), in ms of input audio.
type SpeechEvent struct {
	Type    string `json:"type"`
	AudioMS int64  `json:"audio_ms"`
}

// TranscriptEvent is transcript.partial or transcript.final.
type TranscriptEvent struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// TextDelta is response.text.delta.
type TextDelta struct {
	Type       string `json:"type"`
	ResponseID string `json:"response_id"`
	Delta      string `json:"delta"`
}

// AudioStarted precedes the binary audio of a response.
type AudioStarted struct {
	Type       string      `json:"type"`
	ResponseID string      `json:"response_id"`
	Format     AudioFormat `json:"format"`
}

// The response.done statuses.
const (
	StatusCompleted = "completed"
	StatusFailed    = "failed"
)

// ResponseDone ends a response that was not interrupted.
type ResponseDone struct {
	Type       string `json:"type"`
	ResponseID string `json:"response_id"`
	Status     string `json:"status"`
	Text       string `json:"text"`
}

// The response.interrupted reasons.
const (
	ReasonBargeIn      = "barge_in"
	ReasonClientCancel = "client_cancel"
	ReasonNewInput     = "new_input"
)

// ResponseInterrupted ends a response that was cut off.
type ResponseInterrupted struct {
	Type       string `json:"type"`
	ResponseID string `json:"response_id"`
	Reason     string `json:"reason"`
	PlayedMS   int64  `json:"played_ms"`
	TextPlayed string `json:"text_played"`
}

// The tool.call locations.
const (
	LocationServer = "server"
	LocationClient = "client"
)

// ToolCallEvent is tool.call: for location "client" the client must answer
// with tool.result; "server" calls are informational.
type ToolCallEvent struct {
	Type       string          `json:"type"`
	ResponseID string          `json:"response_id"`
	CallID     string          `json:"call_id"`
	Name       string          `json:"name"`
	Arguments  json.RawMessage `json:"arguments"`
	Location   string          `json:"location"`
}

// MetricsEvent reports a turn's latencies in milliseconds; a stage that did
// not happen is absent.
type MetricsEvent struct {
	Type         string   `json:"type"`
	ResponseID   string   `json:"response_id"`
	STTMS        *float64 `json:"stt_final_ms,omitempty"`
	LLMTTFTMS    *float64 `json:"llm_ttft_ms,omitempty"`
	TTSTTFAMS    *float64 `json:"tts_ttfa_ms,omitempty"`
	VoiceToVoice *float64 `json:"voice_to_voice_ms,omitempty"`
}

// ErrorEvent is `error`.
type ErrorEvent struct {
	Type    string            `json:"type"`
	Code    ErrorCode         `json:"code"`
	Message string            `json:"message"`
	Details map[string]string `json:"details"`
}

// NewErrorEvent builds an error event; details may be nil.
func NewErrorEvent(code ErrorCode, msg string, details map[string]string) ErrorEvent {
	if details == nil {
		details = map[string]string{}
	}
	return ErrorEvent{Type: TypeError, Code: code, Message: msg, Details: details}
}

// Pong answers a ping.
type Pong struct {
	Type string `json:"type"`
	ID   string `json:"id,omitempty"`
}
