// Package parleyv1 is Parley's own client protocol, "parley.v1", spoken on
// /ws/voice (JSON text messages + binary PCM16LE audio) and on the WebRTC
// data channel "events" (the same JSON; audio goes over RTP). It owns the
// wire format: parsing and validating client messages into session
// Commands (Parse), encoding session Events as JSON (Encode), the JSON
// Schemas of both directions (schema/, embedded as Schemas), its error
// codes and its close codes. Transports move bytes; the session decides.
package parleyv1

import (
	"github.com/parleyhq/parley/server/internal/protocol/wsclose"
	"github.com/parleyhq/parley/server/internal/session"
)

// Version names the protocol (also the WebSocket subprotocol).
const Version = "parley.v1"

// CloseCode is a WebSocket close code a parley.v1 session ends with
// (wsclose: the same codes for every protocol over a WebSocket).
// Transports that have no close codes (WebRTC) log it.
type CloseCode = wsclose.Code

// The close codes of parley.v1.
const (
	CloseNormal          = wsclose.Normal
	CloseGoingAway       = wsclose.GoingAway
	ClosePolicyViolation = wsclose.PolicyViolation
	CloseMessageTooBig   = wsclose.MessageTooBig
	CloseInternalError   = wsclose.InternalError
	CloseTryAgainLater   = wsclose.TryAgainLater
	CloseSlowConsumer    = wsclose.SlowConsumer
	CloseIdleTimeout     = wsclose.IdleTimeout
	CloseByOperator      = wsclose.ByOperator
	CloseMaxDuration     = wsclose.MaxDuration
)

// CloseCodeFor maps why a session ended to its close code.
func CloseCodeFor(r session.EndReason) CloseCode { return wsclose.For(r) }

// The protocol's own error codes (malformed messages); the session's codes
// (session.Code*) complete the set.
const (
	// CodeInvalidJSON: a text message is not JSON.
	CodeInvalidJSON session.ErrorCode = "invalid_json"
	// CodeUnknownType: unknown `type` (details.type).
	CodeUnknownType session.ErrorCode = "unknown_type"
	// CodeInvalidMessage: missing `type`, a wrong field type, a missing
	// required field (details.field, expected, got).
	CodeInvalidMessage session.ErrorCode = "invalid_message"
	// CodeMessageTooLarge: a message over the transport's size limit.
	CodeMessageTooLarge session.ErrorCode = "message_too_large"
)

// ProtocolError is a client mistake, reported in an `error` event.
type ProtocolError struct {
	Code    session.ErrorCode
	Message string
	Details map[string]string
}

// Error implements error.
func (e *ProtocolError) Error() string { return string(e.Code) + ": " + e.Message }

func protoErr(code session.ErrorCode, msg string, details map[string]string) *ProtocolError {
	return &ProtocolError{Code: code, Message: msg, Details: details}
}
