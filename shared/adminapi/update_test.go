package adminapi_test

import (
	"net/http"
	"strings"
	"testing"
)

// PATCH /v1/api-keys/{id}: one case per status it answers; its bad bodies
// are in validate_test.go and strict_requests_test.go, its races in
// concurrency_test.go; 401, 403, 503 in status_test.go.
func TestUpdateStatuses(t *testing.T) {
	a := newAPI(t)
	admin := sessionOf("org_a", "u_admin", "admin")
	id, _ := a.createKey(admin, map[string]any{"label": "before", "scopes": []string{"contacts:read"}})
	etag := a.do("GET", "/v1/api-keys/"+id, admin, nil).Headers["ETag"]

	r := a.send("PATCH", "/v1/api-keys/"+id, admin, map[string]any{"label": "after", "scopes": []string{"contacts:read", "contacts:write"},
		"allowed_ips": []string{"198.51.100.7"}, "channels": []string{"ch_1"}}, map[string]string{"If-Match": etag})
	if r.Status != http.StatusOK || r.Body["label"] != "after" || strings.Join(stringsOf(r.Body["scopes"]), ",") != "contacts:read,contacts:write" ||
		strings.Join(stringsOf(r.Body["allowed_ips"]), ",") != "198.51.100.7/32" || strings.Join(stringsOf(r.Body["channels"]), ",") != "ch_1" ||
		r.Headers["ETag"] == "" || r.Headers["ETag"] == etag {
		t.Fatalf("200: %d %v %s", r.Status, r.Headers, r.Raw)
	}
	if r := a.do("PATCH", "/v1/api-keys/"+id, admin, `{"label":""}`); r.Status != http.StatusBadRequest || r.code() != "validation_failed" {
		t.Fatalf("400: %d %s", r.Status, r.Raw)
	}
	// The ETag read before the change no longer matches.
	if r := a.send("PATCH", "/v1/api-keys/"+id, admin, map[string]any{"label": "stale"}, map[string]string{"If-Match": etag}); r.Status != http.StatusPreconditionFailed || r.code() != "precondition_failed" {
		t.Fatalf("412: %d %s", r.Status, r.Raw)
	}
	if r := a.do("PATCH", "/v1/api-keys/key_01KMZ0000000000000000000AB", admin, map[string]any{"label": "x"}); r.Status != http.StatusNotFound || r.code() != "not_found" {
		t.Fatalf("404: %d %s", r.Status, r.Raw)
	}
	if r := a.do("POST", "/v1/api-keys/"+id+"/revoke", admin, nil); r.Status != 200 {
		t.Fatalf("revoke: %d %s", r.Status, r.Raw)
	}
	if r := a.do("PATCH", "/v1/api-keys/"+id, admin, map[string]any{"label": "x"}); r.Status != http.StatusConflict || r.code() != "conflict" {
		t.Fatalf("409 on a revoked key: %d %s", r.Status, r.Raw)
	}
	if got := a.do("GET", "/v1/api-keys/"+id, admin, nil); got.Body["label"] != "after" {
		t.Fatalf("refused patches changed the key: %s", got.Raw)
	}
}
