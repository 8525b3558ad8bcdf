package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
)

// JSON builds a JSON response. Responses are never cached: one of them may
// carry a secret.
func JSON(status int, body any, requestID string) events.APIGatewayProxyResponse {
	b, err := json.Marshal(body)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(errorBody{Error: Error{Code: CodeInternal, Message: "internal error"}, RequestID: requestID})
	}
	return events.APIGatewayProxyResponse{
		StatusCode: status,
		Headers: map[string]string{
			"Content-Type":           "application/json",
			"Cache-Control":          "no-store",
			"X-Content-Type-Options": "nosniff",
			"X-Request-Id":           requestID,
		},
		Body: string(b),
	}
}

type errorBody struct {
	Error     Error  `json:"error"`
	Key       any    `json:"key,omitempty"`
	RequestID string `json:"request_id"`
}

// ErrorResponse writes e in the one error format, with e.Key beside the
// error when it has one.
func ErrorResponse(e *Error, requestID string) events.APIGatewayProxyResponse {
	return JSON(e.Status, errorBody{Error: *e, Key: e.Key, RequestID: requestID}, requestID)
}

// WithHeader returns resp with one more header (an ETag, a Retry-After).
func WithHeader(resp events.APIGatewayProxyResponse, name, value string) events.APIGatewayProxyResponse {
	h := make(map[string]string, len(resp.Headers)+1)
	for k, v := range resp.Headers {
		h[k] = v
	}
	h[name] = value
	resp.Headers = h
	return resp
}
