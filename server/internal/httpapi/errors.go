package httpapi

import (
	"encoding/json"
	"net/http"
)

// Error codes of the JSON error body. Stable: clients match on them.
const (
	CodeUnauthorized    = "unauthorized"
	CodeForbiddenOrigin = "forbidden_origin"
	CodeRateLimited     = "rate_limited"
	CodeInternal        = "internal"
	CodeNotReady        = "not_ready"
	CodeNotFound        = "not_found"
	CodeMethod          = "method_not_allowed"
	CodeBodyTooLarge    = "body_too_large"
	CodeTimeout         = "timeout"
	CodeClientCert      = "client_certificate_required"
	CodeForbidden       = "forbidden"
	CodeAdminDisabled   = "admin_disabled"
	CodeTokenExpired    = "token_expired"
	CodeTokenInvalid    = "token_invalid"
	CodeTokenMalformed  = "token_malformed"
)

// ErrorBody is Parley's one JSON error shape:
// {"error":{"code","message","details"}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of ErrorBody.
type ErrorDetail struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Details map[string]string `json:"details,omitempty"`
}

// WriteError writes the JSON error body with status.
func WriteError(w http.ResponseWriter, status int, code, message string, details map[string]string) {
	WriteJSON(w, status, ErrorBody{Error: ErrorDetail{Code: code, Message: message, Details: details}})
}

// WriteJSON writes v as JSON with status.
func WriteJSON[T any](w http.ResponseWriter, status int, v T) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
