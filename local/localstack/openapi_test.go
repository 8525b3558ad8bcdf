package localstack_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/flowella/apikeys/local/dynamotest"
)

var (
	specOnce sync.Once
	spec     *openapi3.T
	specErr  error
)

// loadSpec loads api/openapi.yaml once and checks that it is valid OpenAPI 3.
func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	specOnce.Do(func() {
		path := filepath.Join(filepath.Dir(dynamotest.TemplatePath(t)), "api", "openapi.yaml")
		spec, specErr = openapi3.NewLoader().LoadFromFile(path)
		if specErr == nil {
			specErr = spec.Validate(context.Background())
		}
	})
	if specErr != nil {
		t.Fatalf("api/openapi.yaml: %v", specErr)
	}
	return spec
}

// specChecker checks every response of a documented operation against
// api/openapi.yaml: its status must be documented and its body must match.
type specChecker struct {
	router  routers.Router
	checked atomic.Int64
}

func newSpecChecker(t *testing.T, base string) *specChecker {
	t.Helper()
	doc := *loadSpec(t)
	doc.Servers = openapi3.Servers{{URL: base}}
	router, err := legacy.NewRouter(&doc)
	if err != nil {
		t.Fatal(err)
	}
	return &specChecker{router: router}
}

func (c *specChecker) check(t *testing.T, req *http.Request, resp *http.Response, body []byte) {
	t.Helper()
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		return // not a documented endpoint (e.g. the stand-in Flowella API)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status:  resp.StatusCode,
		Header:  resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s → %d does not match api/openapi.yaml: %v\nbody: %s", req.Method, req.URL.Path, resp.StatusCode, err, body)
	}
	c.checked.Add(1)
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	doc := loadSpec(t)
	for _, p := range []string{"/v1/api-keys", "/v1/api-keys/{id}", "/v1/api-keys/{id}/revoke", "/v1/audit-events", "/v1/whoami",
		"/v1/api-keys/{id}/activity", "/v1/api-keys/{id}/usage", "/v1/api-keys/{id}/exposure"} {
		if doc.Paths.Find(p) == nil {
			t.Errorf("api/openapi.yaml lacks %s", p)
		}
	}
}

// bodyCopy lets the checker read a body the test reads too.
func bodyCopy(resp *http.Response) []byte {
	b, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return b
}
