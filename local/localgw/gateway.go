// Package localgw is a local stand-in for API Gateway's REST API: it routes
// HTTP requests as template.yaml declares, runs the Lambda authorizer on every
// guarded request (no result cache), invokes handlers through the Lambda JSON
// path with API Gateway's event shapes, answers denials as API Gateway does,
// and writes one access-log line per request.
package localgw

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/flowella/apikeys/local/apigw"
	"github.com/flowella/apikeys/local/localfn"
	"github.com/flowella/apikeys/shared/authz"
	"github.com/flowella/apikeys/shared/samtemplate"
)

// MaxPayload is API Gateway's REST API payload limit.
const MaxPayload = 10 << 20

// Route maps a method and resource path to a Lambda handler. The gateway
// invokes handlers from many goroutines at once, so they must be safe for
// that, as a localfn.Function is; a bare lambda.NewHandler is not.
type Route struct {
	Method     string // upper case; ANY matches every method
	Resource   string // e.g. /v1/api-keys/{id}
	Function   string // logical id, for logs
	Handler    lambda.Handler
	Authorizer lambda.Handler // nil for an unguarded route
}

// Gateway serves HTTP. It is safe for concurrent use.
type Gateway struct {
	routes    []Route
	api       API
	logFormat []logPart // api.AccessLogFormat, split once
	accessLog io.Writer
	logMu     sync.Mutex
	log       *slog.Logger
}

// API is what the template says of the API beyond its routes.
type API struct {
	// Responses answer the requests the gateway refuses itself, by response
	// type (the template's GatewayResponses).
	Responses map[string]samtemplate.GatewayResponse
	// AccessLogFormat is the stage's access log format, $context variables
	// and all; empty writes no access log.
	AccessLogFormat string
}

// New builds a gateway over routes; access log lines, in the API's format,
// go to accessLog.
func New(routes []Route, api API, accessLog io.Writer, log *slog.Logger) *Gateway {
	if log == nil {
		log = slog.Default()
	}
	return &Gateway{routes: routes, api: api, logFormat: compileLogFormat(api.AccessLogFormat), accessLog: accessLog, log: log}
}

// match finds the route and path parameters. Literal segments win over
// parameters, as in API Gateway.
func (g *Gateway) match(method, path string) (*Route, map[string]string) {
	var best *Route
	var bestParams map[string]string
	bestScore := -1
	for i := range g.routes {
		r := &g.routes[i]
		if r.Method != method && r.Method != "ANY" {
			continue
		}
		if params, score, ok := authz.MatchPath(r.Resource, path); ok && score > bestScore {
			best, bestParams, bestScore = r, params, score
		}
	}
	return best, bestParams
}

// accessEntry holds the $context variables an access log format may use.
type accessEntry struct {
	vars map[string]string // "requestId", "authorizer.key_id", …
}

func (e *accessEntry) set(name, value string) { e.vars[name] = value }

var contextVar = regexp.MustCompile(`\$context\.[A-Za-z0-9_.]+`)

// logPart is a piece of an access log format: literal text, or the name of
// a $context variable (without "$context.").
type logPart struct {
	literal, variable string
}

// compileLogFormat splits an access log format into its text and its
// $context variables, once, rather than matching it on every request.
func compileLogFormat(format string) []logPart {
	var parts []logPart
	last := 0
	for _, loc := range contextVar.FindAllStringIndex(format, -1) {
		if loc[0] > last {
			parts = append(parts, logPart{literal: format[last:loc[0]]})
		}
		parts = append(parts, logPart{variable: strings.TrimPrefix(format[loc[0]:loc[1]], "$context.")})
		last = loc[1]
	}
	if last < len(format) {
		parts = append(parts, logPart{literal: format[last:]})
	}
	return parts
}

// render fills a compiled format as API Gateway fills an access log format:
// each $context variable by its value, JSON-escaped (the formats quote
// them), and "-" where the request has none.
func (e *accessEntry) render(format []logPart) []byte {
	b := make([]byte, 0, 512)
	for _, p := range format {
		if p.variable == "" {
			b = append(b, p.literal...)
			continue
		}
		val := e.vars[p.variable]
		if val == "" {
			b = append(b, '-')
			continue
		}
		b = appendJSONEscaped(b, val)
	}
	return b
}

// appendJSONEscaped appends s as the inside of a JSON string, exactly as
// encoding/json writes it; text that needs no escaping is copied as is.
func appendJSONEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q[1:len(q)-1]...)
		}
	}
	return append(b, s...)
}

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	reqID := newRequestID()
	// As API Gateway does, a client may name the request itself with a
	// UUID in X-Amzn-RequestId: $context.requestId is not to be trusted.
	// $context.extendedRequestId (the x-amz-apigw-id header) is the
	// gateway's own.
	if id := r.Header.Get("X-Amzn-RequestId"); isUUID(id) {
		reqID = id
	}
	extID := newExtendedRequestID()
	w.Header().Set("x-amz-apigw-id", extID)
	entry := &accessEntry{vars: map[string]string{
		"extendedRequestId":  extID,
		"requestTimeEpoch":   strconv.FormatInt(start.UnixMilli(), 10),
		"requestTime":        start.UTC().Format("02/Jan/2006:15:04:05 -0700"),
		"requestId":          reqID,
		"httpMethod":         r.Method,
		"path":               r.URL.Path,
		"protocol":           r.Proto,
		"identity.userAgent": r.UserAgent(),
	}}
	rw := &responseTypeWriter{ResponseWriter: w}
	status := g.serve(rw, r, reqID, extID, entry)
	entry.set("status", strconv.Itoa(status))
	entry.set("error.responseType", rw.responseType)
	entry.set("responseLatency", strconv.FormatInt(time.Since(start).Milliseconds(), 10))
	if g.accessLog != nil && g.api.AccessLogFormat != "" {
		line := entry.render(g.logFormat)
		g.logMu.Lock()
		_, _ = g.accessLog.Write(append(line, '\n'))
		g.logMu.Unlock()
	}
}

func (g *Gateway) serve(w http.ResponseWriter, r *http.Request, reqID, extID string, entry *accessEntry) int {
	w.Header().Set("X-Amzn-RequestId", reqID)
	call, err := apigw.FromHTTP(r, reqID, MaxPayload)
	if err != nil {
		return g.refuse(w, reqID, "BAD_REQUEST_BODY", http.StatusBadRequest, "Bad Request")
	}
	call.ExtendedRequestID = extID
	entry.set("identity.sourceIp", call.SourceIP)
	if len(call.Body) > MaxPayload {
		return g.refuse(w, reqID, "REQUEST_TOO_LARGE", http.StatusRequestEntityTooLarge, "Request Too Long")
	}
	route, params := g.match(r.Method, r.URL.Path)
	if route == nil {
		// API Gateway's answer for a method or path it does not know.
		return g.refuse(w, reqID, "MISSING_AUTHENTICATION_TOKEN", http.StatusForbidden, "Missing Authentication Token")
	}
	call.Resource, call.PathParams = route.Resource, params
	entry.set("resourcePath", route.Resource)
	ctx := r.Context()

	principalID, authCtx := "", map[string]any(nil)
	if route.Authorizer != nil {
		if r.Header.Get("Authorization") == "" {
			// The identity source is missing: API Gateway answers 401
			// without calling the authorizer.
			return g.refuse(w, reqID, "UNAUTHORIZED", http.StatusUnauthorized, "Unauthorized")
		}
		var status int
		principalID, authCtx, status = g.authorize(ctx, w, route, call)
		for k, v := range authCtx {
			if s, ok := v.(string); ok {
				entry.set("authorizer."+k, s)
			} else {
				entry.set("authorizer."+k, fmt.Sprint(v))
			}
		}
		if principalID != "" {
			entry.set("authorizer.principalId", principalID)
		}
		if status != 0 {
			return status
		}
	}

	payload, err := json.Marshal(call.ProxyEvent(principalID, authCtx))
	if err != nil {
		return g.refuse(w, reqID, "DEFAULT_5XX", http.StatusInternalServerError, "Internal server error")
	}
	out, err := invoke(ctx, route.Handler, reqID, payload)
	if err != nil {
		g.log.ErrorContext(ctx, "handler failed", "function", route.Function, "request_id", reqID, "error", err.Error())
		if errors.Is(err, localfn.ErrThrottled) {
			// API Gateway answers a throttled Lambda integration with a 500.
			return g.refuse(w, reqID, "INTEGRATION_FAILURE", http.StatusInternalServerError, "Internal server error")
		}
		return g.refuse(w, reqID, "DEFAULT_5XX", http.StatusBadGateway, "Internal server error")
	}
	var resp events.APIGatewayProxyResponse
	if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode == 0 {
		return g.refuse(w, reqID, "DEFAULT_5XX", http.StatusBadGateway, "Internal server error")
	}
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if body, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			return g.refuse(w, reqID, "DEFAULT_5XX", http.StatusBadGateway, "Internal server error")
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
	return resp.StatusCode
}

// authorize runs the REQUEST authorizer. A non-zero status means the
// response has been written.
func (g *Gateway) authorize(ctx context.Context, w http.ResponseWriter, route *Route, call apigw.Call) (string, map[string]any, int) {
	payload, err := json.Marshal(call.AuthorizerEvent())
	if err != nil {
		return "", nil, g.refuse(w, call.RequestID, "AUTHORIZER_FAILURE", http.StatusInternalServerError, "")
	}
	out, err := invoke(ctx, route.Authorizer, call.RequestID, payload)
	if err != nil {
		if strings.Contains(err.Error(), "Unauthorized") {
			return "", nil, g.refuse(w, call.RequestID, "UNAUTHORIZED", http.StatusUnauthorized, "Unauthorized")
		}
		// API Gateway answers an authorizer failure with a 500.
		g.log.ErrorContext(ctx, "authorizer failed", "request_id", call.RequestID, "error", err.Error())
		return "", nil, g.refuse(w, call.RequestID, "AUTHORIZER_FAILURE", http.StatusInternalServerError, "")
	}
	var resp events.APIGatewayCustomAuthorizerResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		return "", nil, g.refuse(w, call.RequestID, "AUTHORIZER_CONFIGURATION_ERROR", http.StatusInternalServerError, "")
	}
	if !allows(resp.PolicyDocument, call.MethodArn()) {
		// The context of a Deny still reaches the access log, as in API Gateway.
		return resp.PrincipalID, resp.Context, g.refuse(w, call.RequestID, "ACCESS_DENIED", http.StatusForbidden, "Forbidden")
	}
	return resp.PrincipalID, resp.Context, 0
}

// allows evaluates the policy for arn as API Gateway does: an explicit Deny
// wins, then an Allow is needed.
func allows(doc events.APIGatewayCustomAuthorizerPolicy, arn string) bool {
	allowed := false
	for _, st := range doc.Statement {
		if !matchesAny(st.Resource, arn) || !matchesAction(st.Action) {
			continue
		}
		switch st.Effect {
		case "Deny":
			return false
		case "Allow":
			allowed = true
		}
	}
	return allowed
}

func matchesAction(actions []string) bool {
	for _, a := range actions {
		if a == "execute-api:Invoke" || a == "execute-api:*" || a == "*" {
			return true
		}
	}
	return false
}

func matchesAny(patterns []string, arn string) bool {
	for _, p := range patterns {
		if wildcardMatch(p, arn) {
			return true
		}
	}
	return false
}

// wildcardMatch matches IAM-style patterns with * and ?.
func wildcardMatch(p, s string) bool {
	if p == "" {
		return s == ""
	}
	switch p[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if wildcardMatch(p[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return s != "" && wildcardMatch(p[1:], s[1:])
	}
	return s != "" && p[0] == s[0] && wildcardMatch(p[1:], s[1:])
}

// invoke calls a handler through the Lambda JSON path, with a Lambda context.
func invoke(ctx context.Context, h lambda.Handler, reqID string, payload []byte) ([]byte, error) {
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: reqID})
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := h.Invoke(ctx, payload)
	if err != nil {
		return nil, err // errors.Is still finds localfn.ErrThrottled
	}
	// A handler that returned an error comes back as {"errorMessage": …};
	// an answer without the word is not one (and is not decoded twice).
	if !bytes.Contains(out, []byte(`"errorMessage"`)) {
		return out, nil
	}
	var fail struct {
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal(out, &fail) == nil && fail.ErrorMessage != "" {
		return nil, errors.New(fail.ErrorMessage)
	}
	return out, nil
}

// refuse answers a request API Gateway refuses itself, of response type
// typ: with the template's GatewayResponses entry for typ, else its
// DEFAULT_4XX or DEFAULT_5XX, else API Gateway's built-in {"message": …}.
func (g *Gateway) refuse(w http.ResponseWriter, reqID, typ string, status int, message string) int {
	if rw, ok := w.(*responseTypeWriter); ok {
		rw.responseType = typ
	}
	resp, ok := g.api.Responses[typ]
	if !ok {
		class := "DEFAULT_4XX"
		if status >= 500 {
			class = "DEFAULT_5XX"
		}
		resp, ok = g.api.Responses[class]
	}
	if ok && resp.StatusCode != 0 {
		status = resp.StatusCode
	}
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-amzn-ErrorType", errorType(typ))
	w.WriteHeader(status)
	_, _ = w.Write(renderGatewayResponse(resp.Template, reqID, message))
	return status
}

// renderGatewayResponse fills the context variables a response template may
// use; an empty template gives API Gateway's built-in body.
func renderGatewayResponse(tmpl, reqID, message string) []byte {
	quoted := []byte("null")
	if message != "" {
		quoted, _ = json.Marshal(message)
	}
	if tmpl == "" {
		return append(append([]byte(`{"message":`), quoted...), '}')
	}
	return []byte(strings.NewReplacer(
		"$context.requestId", reqID,
		"$context.error.messageString", string(quoted),
		"$context.error.message", strings.Trim(string(quoted), `"`),
	).Replace(tmpl))
}

// responseTypeWriter remembers the gateway response type a request was
// answered with, for the access log's $context.error.responseType.
type responseTypeWriter struct {
	http.ResponseWriter
	responseType string
}

func errorType(typ string) string {
	switch typ {
	case "UNAUTHORIZED":
		return "UnauthorizedException"
	case "ACCESS_DENIED":
		return "AccessDeniedException"
	case "MISSING_AUTHENTICATION_TOKEN":
		return "MissingAuthenticationTokenException"
	case "AUTHORIZER_FAILURE", "AUTHORIZER_CONFIGURATION_ERROR":
		return "AuthorizerConfigurationException"
	case "REQUEST_TOO_LARGE":
		return "RequestEntityTooLargeException"
	case "BAD_REQUEST_BODY":
		return "BadRequestException"
	}
	return "InternalServerErrorException"
}

// newExtendedRequestID is shaped like API Gateway's (16 characters of
// base64).
func newExtendedRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case !strings.ContainsRune("0123456789abcdefABCDEF", c):
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
