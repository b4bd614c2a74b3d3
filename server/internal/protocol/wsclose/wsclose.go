// Package wsclose holds the WebSocket close codes Parley's wire protocols
// end sessions with (RFC 6455 §7.4 and Parley's own 4000-4999), and the one
// mapping from the session's EndReason to them, so that every protocol
// over a WebSocket closes the same way for the same reason.
package wsclose

import "github.com/parleyhq/parley/server/internal/session"

// Code is a WebSocket close code.
type Code int

// The close codes.
const (
	// Normal: the session ended normally (client left, end_session tool).
	Normal Code = 1000
	// GoingAway: the server is draining (shutdown or redeploy).
	GoingAway Code = 1001
	// PolicyViolation: the client broke a rule (message rate, a bad token).
	PolicyViolation Code = 1008
	// MessageTooBig: a message was far beyond the maximum size.
	MessageTooBig Code = 1009
	// InternalError: an unexpected server error.
	InternalError Code = 1011
	// TryAgainLater: admission refused after the upgrade (limits).
	TryAgainLater Code = 1013
	// SlowConsumer: the client did not read fast enough and the bounded
	// send buffer filled up (or a write timed out).
	SlowConsumer Code = 4001
	// IdleTimeout: no client traffic for the idle timeout.
	IdleTimeout Code = 4002
	// NoStart: a stream that must announce itself (a carrier's `start`)
	// did not in time.
	NoStart Code = 4003
	// ByOperator: an operator ended the session (admin API).
	ByOperator Code = 4004
	// MaxDuration: the session reached the maximum duration of its client
	// token.
	MaxDuration Code = 4005
)

// For maps why a session ended to its close code.
func For(r session.EndReason) Code {
	switch r {
	case session.EndNormal, session.EndByAgent:
		return Normal
	case session.EndShutdown:
		return GoingAway
	case session.EndPolicyViolation:
		return PolicyViolation
	case session.EndMessageTooBig:
		return MessageTooBig
	case session.EndTryAgainLater:
		return TryAgainLater
	case session.EndSlowConsumer:
		return SlowConsumer
	case session.EndIdle:
		return IdleTimeout
	case session.EndByOperator:
		return ByOperator
	case session.EndMaxDuration:
		return MaxDuration
	}
	return InternalError
}
