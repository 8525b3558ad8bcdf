package adminapi_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/flowella/apikeys/local/dynamotest"
)

var (
	openAPIOnce sync.Once
	openAPIDoc  *openapi3.T
	openAPIErr  error
)

// specChecker holds every answer of an admin endpoint to api/openapi.yaml:
// its status must be documented for the operation and its body must match.
type specChecker struct {
	router  routers.Router
	checked atomic.Int64
}

const specBase = "https://admin.test"

func newSpecChecker(t *testing.T) *specChecker {
	t.Helper()
	openAPIOnce.Do(func() {
		path := filepath.Join(filepath.Dir(dynamotest.TemplatePath(t)), "api", "openapi.yaml")
		openAPIDoc, openAPIErr = openapi3.NewLoader().LoadFromFile(path)
		if openAPIErr == nil {
			openAPIErr = openAPIDoc.Validate(context.Background())
		}
	})
	if openAPIErr != nil {
		t.Fatalf("api/openapi.yaml: %v", openAPIErr)
	}
	doc := *openAPIDoc
	doc.Servers = openapi3.Servers{{URL: specBase}}
	router, err := legacy.NewRouter(&doc)
	if err != nil {
		t.Fatal(err)
	}
	return &specChecker{router: router}
}

// check validates resp, the answer to ev, as a client would receive it.
func (c *specChecker) check(t *testing.T, ev events.APIGatewayProxyRequest, resp events.APIGatewayProxyResponse) {
	t.Helper()
	target := specBase + ev.Path
	if len(ev.MultiValueQueryStringParameters) > 0 {
		target += "?" + url.Values(ev.MultiValueQueryStringParameters).Encode()
	}
	req, err := http.NewRequest(ev.HTTPMethod, target, strings.NewReader(ev.Body))
	if err != nil {
		t.Fatal(err)
	}
	for name, vs := range ev.MultiValueHeaders {
		for _, v := range vs {
			req.Header.Add(name, v)
		}
	}
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		t.Errorf("%s %s is not an operation of api/openapi.yaml: %v", ev.HTTPMethod, ev.Path, err)
		return
	}
	header := http.Header{}
	for name, v := range resp.Headers {
		header.Set(name, v)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status:  resp.StatusCode,
		Header:  header,
		Body:    io.NopCloser(bytes.NewReader([]byte(resp.Body))),
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s → %d does not match api/openapi.yaml: %v\nbody: %s", ev.HTTPMethod, ev.Path, resp.StatusCode, err, resp.Body)
	}
	c.checked.Add(1)
}
