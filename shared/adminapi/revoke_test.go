package adminapi_test

import (
	"net/http"
	"strings"
	"testing"
)

// POST /v1/api-keys/{id}/revoke: one case per status it answers; 401, 403,
// 503 in status_test.go.
func TestRevokeStatuses(t *testing.T) {
	a := newAPI(t)
	admin := sessionOf("org_a", "u_admin", "owner")
	id, _ := a.createKey(admin, map[string]any{"label": "short-lived"})
	stale := a.do("GET", "/v1/api-keys/"+id, admin, nil).Headers["ETag"]
	if r := a.do("PATCH", "/v1/api-keys/"+id, admin, map[string]any{"label": "renamed"}); r.Status != 200 {
		t.Fatalf("patch: %d %s", r.Status, r.Raw)
	}

	if r := a.do("POST", "/v1/api-keys/"+id+"/revoke", admin, `{"reason":`+`"`+strings.Repeat("r", 501)+`"}`); r.Status != http.StatusBadRequest || r.code() != "validation_failed" {
		t.Fatalf("400: %d %s", r.Status, r.Raw)
	}
	if r := a.send("POST", "/v1/api-keys/"+id+"/revoke", admin, nil, map[string]string{"If-Match": stale}); r.Status != http.StatusPreconditionFailed || r.code() != "precondition_failed" {
		t.Fatalf("412: %d %s", r.Status, r.Raw)
	}
	if r := a.do("POST", "/v1/api-keys/key_01KMZ0000000000000000000AB/revoke", admin, nil); r.Status != http.StatusNotFound || r.code() != "not_found" {
		t.Fatalf("404: %d %s", r.Status, r.Raw)
	}
	r := a.do("POST", "/v1/api-keys/"+id+"/revoke", admin, map[string]any{"reason": "leaked in a gist"})
	if r.Status != http.StatusOK || r.Body["status"] != "revoked" || r.Body["revoke_reason"] != "leaked in a gist" ||
		r.Body["revoked_by"] != "u_admin" || r.Body["revoked_at"] == nil || r.Headers["ETag"] == "" {
		t.Fatalf("200: %d %s", r.Status, r.Raw)
	}
	if r := a.do("POST", "/v1/api-keys/"+id+"/revoke", admin, nil); r.Status != http.StatusConflict || r.code() != "already_revoked" {
		t.Fatalf("409: %d %s", r.Status, r.Raw)
	}
	list := a.do("GET", "/v1/api-keys?status=revoked", admin, nil)
	items := list.Body["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["revoked_at"] == nil {
		t.Fatalf("revoked list: %s", list.Raw)
	}
}
