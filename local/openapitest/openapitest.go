// Package openapitest holds answers of the admin API to api/openapi.yaml in
// tests: the status must be documented for the operation and the body must
// match its schema. The endpoint tests beside shared/adminapi and the local
// stack's tests over HTTP share it.
package openapitest

import (
	"context"
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
	once sync.Once
	doc  *openapi3.T
	err  error
)

// Spec is api/openapi.yaml, loaded once and checked to be valid OpenAPI 3.
func Spec(t testing.TB) *openapi3.T {
	t.Helper()
	once.Do(func() {
		path := filepath.Join(filepath.Dir(dynamotest.TemplatePath(t)), "api", "openapi.yaml")
		doc, err = openapi3.NewLoader().LoadFromFile(path)
		if err == nil {
			err = doc.Validate(context.Background())
		}
	})
	if err != nil {
		t.Fatalf("api/openapi.yaml: %v", err)
	}
	return doc
}

// Checker validates answers to requests made to base.
type Checker struct {
	router  routers.Router
	checked atomic.Int64
}

// New is a Checker for requests whose URLs start with base.
func New(t testing.TB, base string) *Checker {
	t.Helper()
	d := *Spec(t)
	d.Servers = openapi3.Servers{{URL: base}}
	router, err := legacy.NewRouter(&d)
	if err != nil {
		t.Fatal(err)
	}
	return &Checker{router: router}
}

// Check fails t when the answer (status, header, body) to req does not
// match the document. It reports false, checking nothing, when req is no
// operation of the document; the caller decides whether that is an error.
func (c *Checker) Check(t testing.TB, req *http.Request, status int, header http.Header, body []byte) bool {
	t.Helper()
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		return false
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status:  status,
		Header:  header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s → %d does not match api/openapi.yaml: %v\nbody: %s", req.Method, req.URL.Path, status, err, body)
	}
	c.checked.Add(1)
	return true
}

// Checked is how many answers were checked.
func (c *Checker) Checked() int64 { return c.checked.Load() }
