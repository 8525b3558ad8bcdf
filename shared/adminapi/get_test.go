package adminapi_test

import (
	"context"
	"testing"

	"github.com/flowella/apikeys/shared/keystore"
)

// GET /v1/api-keys/{id}: 200 and 404 (below); 400 for parameters it does
// not take (strict_requests_test.go); 401, 403, 503 (status_test.go).

func TestGet200(t *testing.T) {
	a := newAPI(t)
	admin := sessionOf("org_a", "u_admin", "admin")
	id, _ := a.createKey(admin, map[string]any{"label": "k", "scopes": []string{"contacts:read"}, "allowed_ips": []string{"203.0.113.0/24"}})
	r := a.do("GET", "/v1/api-keys/"+id, admin, nil)
	if r.Status != 200 || r.Headers["ETag"] == "" || r.Body["id"] != id || r.Body["label"] != "k" || r.Body["status"] != "active" ||
		stringsOf(r.Body["scopes"])[0] != "contacts:read" ||
		stringsOf(r.Body["allowed_ips"])[0] != "203.0.113.0/24" || r.Body["secret"] != nil {
		t.Fatalf("%d %v %s", r.Status, r.Headers, r.Raw)
	}
}

func TestGet404(t *testing.T) {
	a := newAPI(t)
	id, _ := a.createKey(sessionOf("org_a", "u_a", "owner"), map[string]any{"label": "a's key"})
	for name, c := range map[string]struct {
		who  caller
		path string
	}{
		"malformed id":           {sessionOf("org_a", "u_a", "owner"), "/v1/api-keys/nope"},
		"well-formed unknown id": {sessionOf("org_a", "u_a", "owner"), "/v1/api-keys/" + keystore.NewID()},
		"lower-case id":          {sessionOf("org_a", "u_a", "owner"), "/v1/api-keys/key_" + lower(id[4:])},
		"another organisation's": {sessionOf("org_b", "u_b", "owner"), "/v1/api-keys/" + id},
	} {
		t.Run(name, func(t *testing.T) {
			if r := a.do("GET", c.path, c.who, nil); r.Status != 404 || r.code() != "not_found" {
				t.Fatalf("%d %s", r.Status, r.Raw)
			}
		})
	}
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// Issue-era contract: another organisation's key is not found by any
// endpoint that names it, none of them changes it, and it is not listed.
func TestOtherOrganisationsKeyIsNotFound(t *testing.T) {
	a := newAPI(t)
	id, _ := a.createKey(sessionOf("org_a", "u_a", "owner"), map[string]any{"label": "a's key"})
	other := sessionOf("org_b", "u_b", "owner")
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/v1/api-keys/" + id, nil},
		{"PATCH", "/v1/api-keys/" + id, map[string]any{"label": "mine now"}},
		{"POST", "/v1/api-keys/" + id + "/revoke", map[string]any{"reason": "mine now"}},
		{"POST", "/v1/api-keys/" + id + "/roll", nil},
		{"GET", "/v1/api-keys/" + id + "/activity", nil},
		{"GET", "/v1/api-keys/" + id + "/usage", nil},
		{"GET", "/v1/api-keys/" + id + "/exposure", nil},
	} {
		r := a.do(c.method, c.path, other, c.body)
		if r.Status != 404 || r.code() != "not_found" {
			t.Fatalf("%s %s: %d %s", c.method, c.path, r.Status, r.Raw)
		}
	}
	if r := a.do("GET", "/v1/api-keys", other, nil); len(r.Body["items"].([]any)) != 0 {
		t.Fatalf("org_b lists org_a's key: %s", r.Raw)
	}
	k, err := a.store.Get(context.Background(), "org_a", id)
	if err != nil || k.Status != keystore.StatusActive || k.Label != "a's key" || k.RolledTo != "" {
		t.Fatalf("key changed: %+v %v", k, err)
	}
}
