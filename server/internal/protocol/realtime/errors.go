package realtime

// ErrorType is the `type` of an OpenAI error object.
type ErrorType string

// The error types Parley sends.
const (
	// TypeInvalidRequest: the client event was malformed, refused or asks
	// for something Parley does not do.
	TypeInvalidRequest ErrorType = "invalid_request_error"
	// TypeServer: a plugin or the server failed.
	TypeServer ErrorType = "server_error"
)

// Code is the `code` of an error event that Parley itself detects (errors
// the session reports keep the session's code).
type Code string

// The protocol's error codes.
const (
	// CodeInvalidJSON: the message is not a JSON object.
	CodeInvalidJSON Code = "invalid_json"
	// CodeUnknownEvent: the event type is not a GA client event.
	CodeUnknownEvent Code = "invalid_event_type"
	// CodeInvalidValue: a field has the wrong type or value.
	CodeInvalidValue Code = "invalid_value"
	// CodeUnsupported: a valid Realtime feature that Parley does not
	// implement (listed in the transport README).
	CodeUnsupported Code = "unsupported_feature"
	// CodeUnknownItem: an item id that is not in the conversation.
	CodeUnknownItem Code = "item_not_found"
	// CodeActiveResponse: response.create while a response is active.
	CodeActiveResponse Code = "conversation_already_has_active_response"
	// CodeNoActiveResponse: response.cancel with no such active response.
	CodeNoActiveResponse Code = "response_cancel_not_active"
	// CodeCommitEmpty: input_audio_buffer.commit with no audio appended.
	CodeCommitEmpty Code = "input_audio_buffer_commit_empty"
	// CodeBinary: a binary WebSocket message (the protocol is JSON text).
	CodeBinary Code = "binary_message"
	// CodeMessageTooLarge: a message over the size limit.
	CodeMessageTooLarge Code = "message_too_large"
)

// refusal is a refused client event, sent to the client as an `error`
// event (never returned to Go callers).
type refusal struct {
	Code Code
	// Param names the offending field ("session.audio.input.format.rate").
	Param   string
	Message string
}

func refuse(code Code, param, msg string) *refusal {
	return &refusal{Code: code, Param: param, Message: msg}
}
