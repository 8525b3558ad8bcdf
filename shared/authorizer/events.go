package authorizer

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// ErrUnauthorized is the error text API Gateway turns into a 401.
var ErrUnauthorized = errors.New("Unauthorized")

// Handle is the Lambda entry point. It takes the REST API REQUEST and TOKEN
// authorizer events and the HTTP API payload 2.0 event, and answers each in
// its own format: an IAM policy (Allow or Deny, for 403) for REST, a simple
// response for HTTP APIs, and the error "Unauthorized" for a 401.
func (a *Authorizer) Handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var probe struct {
		Version string `json:"version"`
		Type    string `json:"type"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, ErrUnauthorized
	}
	switch {
	case probe.Version == "2.0" && probe.Type == "REQUEST":
		var ev events.APIGatewayV2CustomAuthorizerV2Request
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, ErrUnauthorized
		}
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
		d, err := a.decideAndLog(ctx, r, ev.RequestContext.RequestID)
		if err != nil {
			return nil, err
		}
		switch d.Outcome {
		case Allow:
			return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: true, Context: d.Context}, nil
		case Forbidden:
			return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: false}, nil
		}
		return nil, ErrUnauthorized
	case probe.Type == "TOKEN":
		var ev events.APIGatewayCustomAuthorizerRequest
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, ErrUnauthorized
		}
		method, path := splitMethodArn(ev.MethodArn)
		d, err := a.decideAndLog(ctx, Request{Token: BearerToken(ev.AuthorizationToken), Method: method, Path: path}, "")
		return policy(d, ev.MethodArn, err)
	case probe.Type == "REQUEST":
		var ev events.APIGatewayCustomAuthorizerRequestTypeRequest
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, ErrUnauthorized
		}
		auth := header(ev.Headers, "authorization")
		if auth == "" {
			for k, vs := range ev.MultiValueHeaders {
				if strings.EqualFold(k, "authorization") && len(vs) > 0 {
					auth = vs[0]
				}
			}
		}
		r := Request{Token: BearerToken(auth), Method: ev.HTTPMethod, Resource: ev.Resource, PathParams: ev.PathParameters,
			Path: ev.Path, SourceIP: ev.RequestContext.Identity.SourceIP}
		d, err := a.decideAndLog(ctx, r, ev.RequestContext.RequestID)
		return policy(d, ev.MethodArn, err)
	}
	return nil, ErrUnauthorized
}

func (a *Authorizer) decideAndLog(ctx context.Context, r Request, requestID string) (Decision, error) {
	d, err := a.Decide(ctx, r)
	if err != nil {
		a.log.ErrorContext(ctx, "authorizer refused: cannot decide", "request_id", requestID,
			"method", r.Method, "path", r.Path, "error", err.Error())
		return d, err
	}
	level := slog.LevelInfo
	if d.Outcome != Allow {
		level = slog.LevelWarn
	}
	// One line per decision, with the key's identity even when it is refused
	// (API Gateway's access log has none for a 401): a leaked key's use
	// after revocation is found by key_id here.
	attrs := []any{"request_id", requestID, "method", r.Method, "resource", r.Resource, "path", r.Path,
		"source_ip", r.SourceIP, "outcome", d.Outcome.String(), "reason_code", string(d.Code), "reason", d.Reason}
	if d.Key.Prefix != "" {
		attrs = append(attrs, "key_id", d.Key.ID, "key_prefix", d.Key.Prefix, "org_id", d.Key.OrgID)
	}
	a.log.Log(ctx, level, "authorizer decision", attrs...)
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
func policy(d Decision, methodArn string, err error) (any, error) {
	if err != nil {
		return nil, ErrUnavailable
	}
	switch d.Outcome {
	case Allow:
		return events.APIGatewayCustomAuthorizerResponse{
			PrincipalID:    d.PrincipalID,
			PolicyDocument: document("Allow", methodArn),
			Context:        d.Context,
		}, nil
	case Forbidden:
		principal := d.PrincipalID
		if principal == "" {
			principal = "denied"
		}
		return events.APIGatewayCustomAuthorizerResponse{
			PrincipalID:    principal,
			PolicyDocument: document("Deny", methodArn),
			Context:        d.Context,
		}, nil
	}
	return nil, ErrUnauthorized
}

func document(effect, methodArn string) events.APIGatewayCustomAuthorizerPolicy {
	return events.APIGatewayCustomAuthorizerPolicy{
		Version: "2012-10-17",
		Statement: []events.IAMPolicyStatement{{
			Action:   []string{"execute-api:Invoke"},
			Effect:   effect,
			Resource: []string{methodArn},
		}},
	}
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
