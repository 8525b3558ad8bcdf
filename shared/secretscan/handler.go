// Package secretscan is Flowella's GitHub secret scanning partner endpoint,
// POST /v1/secret-scanning/github: GitHub posts the tokens it found in
// public code that match Flowella's key pattern, signed with its published
// keys; each one that is a key of this deployment is revoked, or flagged
// and kept working, as its organisation chose (on_exposure), and GitHub is
// told which tokens were real.
//
// The route is public (no authorizer): the signature is its authentication,
// checked before anything else.
package secretscan

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/flowella/apikeys/shared/deployconfig"
	"github.com/flowella/apikeys/shared/httpapi"
	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/textclip"
)

// Verifier checks a report's signature (PublicKeys does, against GitHub's keys).
type Verifier interface {
	Verify(ctx context.Context, keyID, signature string, body []byte) error
}

// Handler serves the endpoint: signature, then body, then the scan.
type Handler struct {
	Signatures Verifier
	Scanner    *Scanner
	Log        *slog.Logger
}

// New wires the endpoint from its start-up configuration: the key store on
// its tables and the deployment's key environment, and GitHub's public keys
// from keysURL (SECRET_SCANNING_KEYS_URL; GitHubKeysURL when empty), fetched
// when the first report arrives.
func New(fn deployconfig.Function, keysURL string) (*Handler, error) {
	keys, err := NewPublicKeys(keysURL, fn.Log)
	if err != nil {
		return nil, err
	}
	store := keystore.New(fn.DB, fn.KeysTable, fn.OrgsTable)
	return &Handler{
		Signatures: keys,
		Scanner:    &Scanner{Keys: store, Orgs: store, Env: fn.KeyEnv, Log: fn.Log},
		Log:        fn.Log,
	}, nil
}

// Handle answers one report: 401 when its signature is missing or does not
// verify (before any DynamoDB call), 503 when GitHub's keys cannot be
// fetched, 400 when the body is not a report, and otherwise 200 with
// GitHub's feedback array.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	reqID := req.RequestContext.RequestID
	body, err := httpapi.Body(req)
	if err == nil {
		err = h.Signatures.Verify(ctx, httpapi.Header(req, KeyIdentifierHeader), httpapi.Header(req, SignatureHeader), body)
	}
	var matches []Match
	if err == nil {
		matches, err = ParseReport(body)
	}
	var feedback []Feedback
	if err == nil {
		feedback, err = h.Scanner.Scan(ctx, matches, Request{
			IP:          req.RequestContext.Identity.SourceIP,
			UserAgent:   req.RequestContext.Identity.UserAgent,
			RequestID:   reqID,
			XRayTraceID: httpapi.Header(req, "X-Amzn-Trace-Id"),
			TraceParent: httpapi.Header(req, "traceparent"),
		})
	}
	if err == nil {
		h.logger().InfoContext(ctx, "secret scanning report", "request_id", reqID, "tokens", len(matches),
			"true_positives", count(feedback, TruePositive))
		return httpapi.JSON(http.StatusOK, feedback, reqID), nil
	}
	apiErr := toAPIError(err)
	if apiErr.Status >= 500 && !errors.Is(err, ErrKeyNotFetchedYet) { // anyone can send a made-up key identifier
		h.logger().ErrorContext(ctx, "secret scanning report failed", "request_id", reqID, "error", err.Error())
	} else {
		h.logger().WarnContext(ctx, "secret scanning report refused", "request_id", reqID, "status", apiErr.Status,
			"key_identifier", textclip.Clip(httpapi.Header(req, KeyIdentifierHeader), 128), "source_ip", req.RequestContext.Identity.SourceIP,
			"error", err.Error())
	}
	resp := httpapi.ErrorResponse(apiErr, reqID)
	if apiErr.Status == http.StatusServiceUnavailable {
		retry := "1" // the table's contention passes in a moment
		if errors.Is(err, ErrKeysUnavailable) || errors.Is(err, ErrKeyNotFetchedYet) {
			retry = "60" // the next fetch of GitHub's keys is allowed in a minute
		}
		resp = httpapi.WithHeader(resp, "Retry-After", retry)
	}
	return resp, nil
}

// toAPIError is the one place where the endpoint's errors become responses.
func toAPIError(err error) *httpapi.Error {
	var apiErr *httpapi.Error
	switch {
	case errors.As(err, &apiErr):
		return apiErr
	case errors.Is(err, ErrMissingSignature):
		return httpapi.Unauthorized("send the report signed, with the " + KeyIdentifierHeader + " and " + SignatureHeader + " headers")
	case errors.Is(err, ErrBadSignature), errors.Is(err, ErrUnknownKey):
		return httpapi.Unauthorized("the report's signature does not verify against GitHub's published secret scanning keys")
	case errors.Is(err, ErrKeysUnavailable):
		return &httpapi.Error{Status: http.StatusServiceUnavailable, Code: httpapi.CodeUnavailable,
			Message: "GitHub's public keys could not be fetched, so the report cannot be verified; nothing was changed; send it again later"}
	case errors.Is(err, ErrKeyNotFetchedYet):
		return &httpapi.Error{Status: http.StatusServiceUnavailable, Code: httpapi.CodeUnavailable,
			Message: "the report is signed with a key not among GitHub's keys fetched here; they are fetched again within a minute; nothing was changed; send it again then"}
	case errors.Is(err, ErrMalformed):
		return httpapi.Invalid(err.Error())
	case keystore.Unavailable(err):
		return &httpapi.Error{Status: http.StatusServiceUnavailable, Code: httpapi.CodeUnavailable,
			Message: "the keys' table is busy; send the report again: keys handled already are not handled twice"}
	}
	return httpapi.AsError(err)
}

func count(feedback []Feedback, label string) int {
	n := 0
	for _, f := range feedback {
		if f.Label == label {
			n++
		}
	}
	return n
}

func (h *Handler) logger() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}
