// Package apigw builds the events API Gateway (REST API) sends to Lambda
// from a plain HTTP request: the proxy event for a handler and the REQUEST
// event for the authorizer. The local stack serves HTTP with them, and tests
// drive handlers with them.
package apigw

import (
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// Call is one HTTP request as API Gateway sees it.
type Call struct {
	RequestID string
	// ExtendedRequestID is API Gateway's own id of the request, which,
	// unlike RequestID, a client cannot choose.
	ExtendedRequestID string
	Stage             string
	Resource          string // the template path, e.g. /v1/api-keys/{id}
	PathParams        map[string]string
	Method            string
	Path              string
	Query             map[string][]string
	Headers           map[string][]string
	Body              []byte
	SourceIP          string
	Time              time.Time
	AccountID         string
	APIID             string
}

// FromHTTP reads r into a Call, body included (up to limit bytes; more is an error).
func FromHTTP(r *http.Request, requestID string, limit int64) (Call, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return Call{}, fmt.Errorf("read body: %w", err)
	}
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	return Call{
		RequestID: requestID,
		Stage:     "local",
		Method:    r.Method,
		Path:      r.URL.Path,
		Query:     r.URL.Query(),
		Headers:   r.Header,
		Body:      body,
		SourceIP:  ip,
		Time:      time.Now(),
		AccountID: "000000000000",
		APIID:     "local",
	}, nil
}

// MethodArn is the ARN API Gateway names the route with in authorizer events.
func (c Call) MethodArn() string {
	return fmt.Sprintf("arn:aws:execute-api:us-east-1:%s:%s/%s/%s%s", c.AccountID, c.APIID, c.Stage, c.Method, c.Path)
}

func single(m map[string][]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, vs := range m {
		if len(vs) > 0 {
			out[k] = vs[len(vs)-1]
		}
	}
	return out
}

func (c Call) header(name string) string {
	for k, vs := range c.Headers {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return vs[0]
		}
	}
	return ""
}

// AuthorizerEvent is the REST API REQUEST authorizer event for c.
// AuthorizerRequest is the REQUEST authorizer event as API Gateway sends it:
// aws-lambda-go's type, whose request context lacks extendedRequestId.
type AuthorizerRequest struct {
	events.APIGatewayCustomAuthorizerRequestTypeRequest
	RequestContext AuthorizerRequestContext `json:"requestContext"`
}

// AuthorizerRequestContext adds extendedRequestId to aws-lambda-go's.
type AuthorizerRequestContext struct {
	events.APIGatewayCustomAuthorizerRequestTypeRequestContext
	ExtendedRequestID string `json:"extendedRequestId"`
}

func (c Call) AuthorizerEvent() AuthorizerRequest {
	ev := c.authorizerEvent()
	return AuthorizerRequest{APIGatewayCustomAuthorizerRequestTypeRequest: ev,
		RequestContext: AuthorizerRequestContext{APIGatewayCustomAuthorizerRequestTypeRequestContext: ev.RequestContext,
			ExtendedRequestID: c.ExtendedRequestID}}
}

func (c Call) authorizerEvent() events.APIGatewayCustomAuthorizerRequestTypeRequest {
	return events.APIGatewayCustomAuthorizerRequestTypeRequest{
		Type:                            "REQUEST",
		MethodArn:                       c.MethodArn(),
		Resource:                        c.Resource,
		Path:                            c.Path,
		HTTPMethod:                      c.Method,
		Headers:                         single(c.Headers),
		MultiValueHeaders:               c.Headers,
		QueryStringParameters:           single(c.Query),
		MultiValueQueryStringParameters: c.Query,
		PathParameters:                  c.PathParams,
		RequestContext: events.APIGatewayCustomAuthorizerRequestTypeRequestContext{
			Path:         "/" + c.Stage + c.Path,
			AccountID:    c.AccountID,
			ResourcePath: c.Resource,
			Stage:        c.Stage,
			RequestID:    c.RequestID,
			Identity:     events.APIGatewayCustomAuthorizerRequestTypeRequestIdentity{SourceIP: c.SourceIP},
			HTTPMethod:   c.Method,
			APIID:        c.APIID,
		},
	}
}

// ProxyEvent is the REST API proxy event for c, with the authorizer's
// principal id and context as API Gateway passes them on.
func (c Call) ProxyEvent(principalID string, authorizerContext map[string]any) events.APIGatewayProxyRequest {
	auth := map[string]any{"principalId": principalID}
	for k, v := range authorizerContext {
		auth[k] = v
	}
	body, b64 := string(c.Body), false
	if !utf8.Valid(c.Body) {
		body, b64 = base64.StdEncoding.EncodeToString(c.Body), true
	}
	return events.APIGatewayProxyRequest{
		Resource:                        c.Resource,
		Path:                            c.Path,
		HTTPMethod:                      c.Method,
		Headers:                         single(c.Headers),
		MultiValueHeaders:               c.Headers,
		QueryStringParameters:           single(c.Query),
		MultiValueQueryStringParameters: c.Query,
		PathParameters:                  c.PathParams,
		Body:                            body,
		IsBase64Encoded:                 b64,
		RequestContext: events.APIGatewayProxyRequestContext{
			AccountID:         c.AccountID,
			ResourcePath:      c.Resource,
			Stage:             c.Stage,
			RequestID:         c.RequestID,
			ExtendedRequestID: c.ExtendedRequestID,
			Identity:          events.APIGatewayRequestIdentity{SourceIP: c.SourceIP, UserAgent: c.header("User-Agent")},
			ResourceID:        "local",
			HTTPMethod:        c.Method,
			Path:              "/" + c.Stage + c.Path,
			APIID:             c.APIID,
			Protocol:          "HTTP/1.1",
			RequestTime:       c.Time.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			RequestTimeEpoch:  c.Time.UnixMilli(),
			Authorizer:        auth,
		},
	}
}
