// Package httpapi turns API Gateway proxy events into domain calls and
// domain results into JSON responses: strict body decoding, the caller's
// identity from the authorizer context, and the one error body format.
package httpapi

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is an error the client can act on: its status, stable code and
// message go out as they are.
type Error struct {
	Status  int      `json:"-"`
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Details []Detail `json:"details,omitempty"`
	// Key is the API key the error is about, sent beside the error as "key"
	// (the key an earlier request with the same Idempotency-Key made).
	Key any `json:"-"`
}

// Detail points at one problem in the input.
type Detail struct {
	Field string `json:"field,omitempty"`
	Issue string `json:"issue"`
	Value string `json:"value,omitempty"`
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// AsError returns err as an *Error, or a 500 internal error that says nothing
// of err when it is not one.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal,
		Message: "internal error; try again, and quote the request_id if it persists"}
}

// Stable error codes.
const (
	CodeValidation        = "validation_failed"
	CodeNotFound          = "not_found"
	CodeForbidden         = "forbidden"
	CodeUnauthorized      = "unauthorized"
	CodeAlreadyRevoked    = "already_revoked"
	CodeConflict          = "conflict"
	CodeFeatureNotEnabled = "feature_not_enabled"
	CodePayloadTooLarge   = "payload_too_large"
	CodeUnsupportedMedia  = "unsupported_media_type"
	CodeInternal          = "internal"
	// An earlier request with this Idempotency-Key already did this.
	CodeIdempotentReplay = "idempotent_replay"
	// The Idempotency-Key was used with a different request.
	CodeIdempotencyKeyReused = "idempotency_key_reused"
	// If-Match does not match the resource's current ETag (RFC 9110, 412).
	CodePreconditionFailed = "precondition_failed"
	// The store could not take the request now (contention, throttling);
	// retry after Retry-After.
	CodeUnavailable = "unavailable"
)

// Invalid is a 400 validation_failed error.
func Invalid(msg string, details ...Detail) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeValidation, Message: msg, Details: details}
}

// Forbidden is a 403.
func Forbidden(msg string) *Error {
	return &Error{Status: http.StatusForbidden, Code: CodeForbidden, Message: msg}
}

// Unauthorized is a 401.
func Unauthorized(msg string) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Message: msg}
}

// PreconditionFailed is a 412 precondition_failed.
func PreconditionFailed(msg string) *Error {
	return &Error{Status: http.StatusPreconditionFailed, Code: CodePreconditionFailed, Message: msg}
}

// NotFound is a 404.
func NotFound(msg string) *Error {
	return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: msg}
}
