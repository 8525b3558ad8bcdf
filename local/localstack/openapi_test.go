package localstack_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/flowella/apikeys/local/openapitest"
)

// specChecker holds every answer of a documented operation to
// api/openapi.yaml; answers of what it does not document (the stand-in
// Flowella API) are not checked.
type specChecker struct{ *openapitest.Checker }

func newSpecChecker(t *testing.T, base string) *specChecker {
	return &specChecker{openapitest.New(t, base)}
}

func (c *specChecker) check(t *testing.T, req *http.Request, resp *http.Response, body []byte) {
	t.Helper()
	c.Check(t, req, resp.StatusCode, resp.Header, body)
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	doc := openapitest.Spec(t)
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
