package adminapi_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/flowella/apikeys/local/openapitest"
)

// specChecker holds every answer of an admin endpoint to api/openapi.yaml:
// its status must be documented for the operation and its body must match.
type specChecker struct{ *openapitest.Checker }

const specBase = "https://admin.test"

func newSpecChecker(t *testing.T) *specChecker {
	return &specChecker{openapitest.New(t, specBase)}
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
	header := http.Header{}
	for name, v := range resp.Headers {
		header.Set(name, v)
	}
	if !c.Check(t, req, resp.StatusCode, header, []byte(resp.Body)) {
		t.Errorf("%s %s is not an operation of api/openapi.yaml", ev.HTTPMethod, ev.Path)
	}
}
