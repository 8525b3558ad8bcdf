package adminapi_test

import (
	"net/http"
	"strings"
	"testing"
)

// POST /v1/api-keys: 201 (below), 400, 413 and 415 (validate_test.go),
// 409 org_not_configured (below), 422 (idempotency_test.go); 401, 403 and
// 503 as every endpoint (status_test.go).

// 201: the secret is in this answer only, and nowhere the API shows or logs
// afterwards.
func TestCreate201(t *testing.T) {
	a := newAPI(t)
	admin := sessionOf("org_a", "u_admin", "admin")
	r := a.do("POST", "/v1/api-keys", admin, map[string]any{"label": "  CI deploys  ", "scopes": []string{"messages:send"}})
	if r.Status != http.StatusCreated || r.Headers["ETag"] == "" {
		t.Fatalf("create: %d %v %s", r.Status, r.Headers, r.Raw)
	}
	secret := r.Body["secret"].(string)
	id := r.Body["id"].(string)
	if len(secret) != 48 || !strings.HasPrefix(secret, "flwl_live_") || r.Body["prefix"] != secret[:16] {
		t.Fatalf("create body: %s", r.Raw)
	}
	if r.Body["label"] != "CI deploys" || r.Body["status"] != "active" || r.Body["last_used_at"] != nil || r.Body["created_by"] != "u_admin" {
		t.Fatalf("create body: %s", r.Raw)
	}
	get := a.do("GET", "/v1/api-keys/"+id, admin, nil)
	list := a.do("GET", "/v1/api-keys", admin, nil)
	if get.Status != 200 || get.Body["id"] != id || list.Status != 200 {
		t.Fatalf("get: %d %s; list: %d", get.Status, get.Raw, list.Status)
	}
	secretPart := secret[16:] // the prefix is meant to be shown
	for name, text := range map[string]string{"get": get.Raw, "list": list.Raw, "table": strings.Join(a.snapshot("KeysTable"), "\n"),
		"handler logs": a.logs.String()} {
		if strings.Contains(text, secretPart) {
			t.Errorf("%s contains the secret", name)
		}
	}
	for name, text := range map[string]string{"get": get.Raw, "list": list.Raw} {
		if strings.Contains(text, "secret") {
			t.Errorf("%s mentions a secret field: %s", name, text)
		}
	}
}

// 400: unknown scopes are named, each of them.
func TestCreate400UnknownScopes(t *testing.T) {
	a := newAPI(t)
	r := a.do("POST", "/v1/api-keys", sessionOf("org_a", "u_admin", "admin"),
		map[string]any{"label": "bad", "scopes": []string{"messages:send", "messages:delete", "admin"}})
	if r.Status != 400 || r.code() != "validation_failed" || !strings.Contains(r.Raw, "messages:delete") || !strings.Contains(r.Raw, `"admin"`) {
		t.Fatalf("unknown scopes: %d %s", r.Status, r.Raw)
	}
	if ids := a.keyIDs(sessionOf("org_a", "u_admin", "admin")); len(ids) != 0 {
		t.Fatalf("a refused create made keys: %v", ids)
	}
}

// 409: an organisation with no record has no plan to create keys under.
func TestCreate409OrgNotConfigured(t *testing.T) {
	a := newAPI(t)
	who := sessionOf("org_unknown", "u_1", "owner")
	r := a.do("POST", "/v1/api-keys", who, map[string]any{"label": "first"})
	if r.Status != http.StatusConflict || r.code() != "org_not_configured" {
		t.Fatalf("%d %s", r.Status, r.Raw)
	}
	if ids := a.keyIDs(who); len(ids) != 0 {
		t.Fatalf("keys made: %v", ids)
	}
}
