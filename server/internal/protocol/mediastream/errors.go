package mediastream

import "errors"

// Reason classifies a refused inbound message; the values are bounded
// (metric labels).
type Reason string

// The reasons.
const (
	ReasonNotJSON        Reason = "not_json"
	ReasonUnknownEvent   Reason = "unknown_event"
	ReasonMalformed      Reason = "malformed"
	ReasonBadPayload     Reason = "bad_payload"
	ReasonBadFormat      Reason = "unsupported_format"
	ReasonBeforeStart    Reason = "before_start"
	ReasonStreamMismatch Reason = "stream_mismatch"
	ReasonBadMark        Reason = "bad_mark"
	ReasonBadDigit       Reason = "bad_digit"
	ReasonBinary         Reason = "binary"
	ReasonDuplicateStart Reason = "duplicate_start"
	ReasonBadToken       Reason = "bad_token"
	ReasonOtherTrack     Reason = "other_track"
)

// Error is a refused inbound message.
type Error struct {
	Reason Reason
	// Detail says what was wrong, for the log (never sent anywhere).
	Detail string
}

// Error implements error.
func (e *Error) Error() string { return "mediastream: " + string(e.Reason) + ": " + e.Detail }

// Is makes errors.Is(err, ErrRefused) true for every *Error.
func (e *Error) Is(target error) bool { return target == ErrRefused }

// ErrRefused matches every refused inbound message.
var ErrRefused = errors.New("mediastream: message refused")

func refuse(r Reason, detail string) *Error { return &Error{Reason: r, Detail: detail} }
