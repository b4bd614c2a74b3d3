package webrtc

import (
	"encoding/json"
	"errors"
	"net/http"
)

// ErrBadOffer is returned for an offer that is not a usable SDP offer:
// garbage, truncated, wrong JSON, or refused by the WebRTC stack (HTTP 400).
var ErrBadOffer = errors.New("webrtc: bad offer")

// ErrUnsupportedOffer is returned for a well-formed offer that lacks what a
// Parley session needs: an audio m-line offering Opus (HTTP 422).
var ErrUnsupportedOffer = errors.New("webrtc: unsupported offer")

// ErrClosed is returned by the handler after Close (HTTP 503).
var ErrClosed = errors.New("webrtc: handler closed")

// httpCode is the stable `code` of an HTTP error body.
type httpCode string

// The HTTP error codes of the signaling endpoints (admission refusals use
// the session package's codes: session_limit, ip_limit, overloaded, draining).
const (
	codeInvalidSDP           httpCode = "invalid_sdp"
	codeUnsupportedOffer     httpCode = "unsupported_offer"
	codeOfferTooLarge        httpCode = "offer_too_large"
	codeUnsupportedMediaType httpCode = "unsupported_media_type"
	codeSessionNotFound      httpCode = "session_not_found"
	codeInvalidCandidate     httpCode = "invalid_candidate"
	codeInternal             httpCode = "internal"
	// codeICECredentials: TURN credentials could not be issued.
	codeICECredentials httpCode = "ice_credentials_unavailable"
	// codeSessionInUse: the client token's session id is running already.
	codeSessionInUse httpCode = "session_in_use"
	// codeTokenSessionMismatch: a client token for another session.
	codeTokenSessionMismatch httpCode = "token_session_mismatch"
)

// errorBody is the JSON error shape shared with the rest of the HTTP API:
// {"error":{"code","message","details"}}. httpapi mounts transports, so the
// transport cannot import its writer; this is the same shape.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    httpCode          `json:"code"`
	Message string            `json:"message"`
	Details map[string]string `json:"details"`
}

// writeError writes the JSON error body with status.
func writeError(w http.ResponseWriter, status int, code httpCode, msg string, details map[string]string) {
	if details == nil {
		details = map[string]string{}
	}
	body, err := json.Marshal(errorBody{Error: errorDetail{Code: code, Message: msg, Details: details}})
	if err != nil {
		body = []byte(`{"error":{"code":"internal","message":"error encoding failed","details":{}}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
