package authorizer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/flowella/apikeys/shared/principal"
	"github.com/flowella/apikeys/shared/textclip"
)

// ErrUnauthorized is the error text API Gateway turns into a 401.
var ErrUnauthorized = errors.New("Unauthorized")

// Event is any authorizer event API Gateway sends — a REST API REQUEST or
// TOKEN event, or an HTTP API payload 2.0 event — decoded once: the three
// share field names where they share meaning.
type Event struct {
	Version string `json:"version"` // "2.0" for HTTP APIs
	Type    string `json:"type"`    // REQUEST or TOKEN

	AuthorizationToken string `json:"authorizationToken"` // TOKEN
	MethodArn          string `json:"methodArn"`          // REST

	Resource          string              `json:"resource"` // REST REQUEST: the resolved route
	Path              string              `json:"path"`
	HTTPMethod        string              `json:"httpMethod"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	PathParameters    map[string]string   `json:"pathParameters"`

	RouteKey string `json:"routeKey"` // HTTP API: "GET /v1/api-keys/{id}" or "$default"

	RequestContext struct {
		RequestID string `json:"requestId"`
		// ExtendedRequestID is API Gateway's own id of a REST request; the
		// client can choose RequestID.
		ExtendedRequestID string `json:"extendedRequestId"`
		Stage             string `json:"stage"`
		Identity          struct {
			SourceIP string `json:"sourceIp"`
		} `json:"identity"` // REST
		HTTP struct {
			Method   string `json:"method"`
			Path     string `json:"path"`
			SourceIP string `json:"sourceIp"`
		} `json:"http"` // HTTP API
	} `json:"requestContext"`
}

// Invoke is the Lambda entry point as the runtime calls it
// (lambda.Handler): the event's JSON in, decoded once and without
// reflection (decodeEvent); the answer's JSON out, written likewise. A 401
// is the error ErrUnauthorized, and a storage failure an error too (API
// Gateway's 500), never an answer.
func (a *Authorizer) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var ev Event
	if err := decodeEvent(payload, &ev); err != nil {
		return nil, fmt.Errorf("decode authorizer event: %w", err)
	}
	resp, err := a.Handle(ctx, ev)
	if err != nil {
		return nil, err
	}
	return resp.AppendJSON(make([]byte, 0, 512))
}

// Handle is the typed entry point: a decision for the event, answered in
// its format.
func (a *Authorizer) Handle(ctx context.Context, ev Event) (Response, error) {
	switch {
	case ev.Version == "2.0" && ev.Type == "REQUEST":
		r := Request{
			Token:      BearerToken(header(ev.Headers, "authorization")),
			Method:     ev.RequestContext.HTTP.Method,
			PathParams: ev.PathParameters,
			Path:       stripStage(ev.RequestContext.HTTP.Path, ev.RequestContext.Stage),
			SourceIP:   ev.RequestContext.HTTP.SourceIP,
		}
		// routeKey is "GET /v1/api-keys/{id}", or "$default" for the
		// catch-all route, which resolves nothing.
		if method, resource, ok := strings.Cut(ev.RouteKey, " "); ok && strings.HasPrefix(resource, "/") {
			if method != "ANY" {
				r.Method = method
			}
			r.Resource = resource
		}
		d, err := a.decideAndLog(ctx, r, ev.RequestContext.RequestID, ev.RequestContext.RequestID)
		if err != nil {
			return Response{}, err
		}
		switch d.Outcome {
		case Allow:
			return Response{HTTP: true, Allow: true, Context: d.Context}, nil
		case Forbidden:
			return Response{HTTP: true}, nil
		}
		return Response{}, ErrUnauthorized
	case ev.Type == "TOKEN":
		method, path := splitMethodArn(ev.MethodArn)
		d, err := a.decideAndLog(ctx, Request{Token: BearerToken(ev.AuthorizationToken), Method: method, Path: path}, "", "")
		return policy(d, ev.MethodArn, err)
	case ev.Type == "REQUEST":
		auth := header(ev.Headers, "authorization")
		if auth == "" {
			for k, vs := range ev.MultiValueHeaders {
				if strings.EqualFold(k, "authorization") && len(vs) > 0 {
					auth = vs[0]
				}
			}
		}
		r := Request{Token: BearerToken(auth), Method: ev.HTTPMethod, Resource: ev.Resource, PathParams: ev.PathParameters,
			Path: ev.Path, SourceIP: ev.RequestContext.Identity.SourceIP, UserAgent: header(ev.Headers, "user-agent")}
		d, err := a.decideAndLog(ctx, r, ev.RequestContext.RequestID, ev.RequestContext.ExtendedRequestID)
		return policy(d, ev.MethodArn, err)
	}
	return Response{}, ErrUnauthorized
}

// MaxLoggedText bounds the caller's path and user agent in the decision
// line, as key activity keeps them: a user agent of 8 KiB of quotes,
// escaped, would otherwise make the line too long to be read, and the
// request would leave no activity.
const MaxLoggedText = 512

func (a *Authorizer) decideAndLog(ctx context.Context, r Request, requestID, extendedRequestID string) (Decision, error) {
	d, err := a.Decide(ctx, r)
	if err != nil {
		a.log.LogAttrs(ctx, slog.LevelError, "authorizer refused: cannot decide", slog.String("request_id", requestID),
			slog.String("method", r.Method), slog.String("path", r.Path), slog.String("error", err.Error()))
		return d, err
	}
	level := slog.LevelInfo
	if d.Outcome != Allow {
		level = slog.LevelWarn
	}
	// One line per decision, with the key's identity even when it is refused
	// (API Gateway's access log has none for a 401): a leaked key's use
	// after revocation is found by key_id here. Typed attributes, in an
	// array on the stack, cost no allocation each.
	var buf [15]slog.Attr
	attrs := append(buf[:0], slog.String("request_id", requestID), slog.String("extended_request_id", extendedRequestID),
		slog.String("method", r.Method), slog.String("resource", r.Resource), slog.String("path", textclip.Clip(r.Path, MaxLoggedText)),
		slog.String("source_ip", r.SourceIP), slog.String("user_agent", textclip.Clip(r.UserAgent, MaxLoggedText)),
		slog.String("outcome", d.Outcome.String()), slog.String("reason_code", string(d.Code)), slog.String("reason", d.Reason))
	if d.Key.Prefix != "" {
		// Named as in the access log, so key activity reads both alike.
		attrs = append(attrs, slog.String(principal.FieldKeyID, d.Key.ID), slog.String(principal.FieldKeyPrefix, d.Key.Prefix),
			slog.String(principal.FieldOrgID, d.Key.OrgID))
	}
	a.log.LogAttrs(ctx, level, "authorizer decision", attrs...)
	return d, nil
}

func (o Outcome) String() string {
	switch o {
	case Allow:
		return "allow"
	case Unauthenticated:
		return "unauthenticated"
	case Forbidden:
		return "forbidden"
	}
	return "unknown"
}

// policy answers a REST API authorizer event. A storage failure is returned
// as an error, which API Gateway turns into a 500: the request is refused,
// and the client is not told its key is bad.
func policy(d Decision, methodArn string, err error) (Response, error) {
	if err != nil {
		return Response{}, ErrUnavailable
	}
	switch d.Outcome {
	case Allow:
		return Response{Allow: true, PrincipalID: d.PrincipalID, MethodArn: methodArn, Context: d.Context}, nil
	case Forbidden:
		principal := d.PrincipalID
		if principal == "" {
			principal = "denied"
		}
		return Response{PrincipalID: principal, MethodArn: methodArn, Context: d.Context}, nil
	}
	return Response{}, ErrUnauthorized
}

// splitMethodArn reads the method and path from
// arn:aws:execute-api:region:account:api-id/stage/METHOD/path…
func splitMethodArn(arn string) (method, path string) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return "", ""
	}
	segs := strings.SplitN(parts[5], "/", 4)
	if len(segs) < 3 {
		return "", ""
	}
	method = segs[2]
	if len(segs) == 4 {
		path = "/" + segs[3]
	} else {
		path = "/"
	}
	return method, path
}

// stripStage removes a named stage from an HTTP API's raw path, which
// carries it ("/prod/v1/whoami"); the $default stage adds nothing.
func stripStage(path, stage string) string {
	if stage == "" || stage == "$default" {
		return path
	}
	if rest, ok := strings.CutPrefix(path, "/"+stage); ok && (rest == "" || rest[0] == '/') {
		return rest
	}
	return path
}

func header(h map[string]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}
