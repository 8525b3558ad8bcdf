package adminapi_test

import (
	"testing"
	"time"
)

// A key past its expires_at reads as expired, lists under status=expired,
// cannot be changed (409) but can be revoked; expires_at itself must be a
// time from a minute to five years ahead (400 otherwise).
func TestExpiry(t *testing.T) {
	a := newAPI(t)
	admin := sessionOf("org_a", "u_a", "admin")
	in := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	r := a.do("POST", "/v1/api-keys", admin, map[string]any{"label": "temporary", "expires_at": in})
	if r.Status != 201 || r.Body["expires_at"] == nil || r.Body["status"] != "active" {
		t.Fatalf("create: %d %s", r.Status, r.Raw)
	}
	id := r.Body["id"].(string)
	forever, _ := a.createKey(admin, map[string]any{"label": "forever"})

	a.expireNow("org_a", id)
	if r := a.do("GET", "/v1/api-keys/"+id, admin, nil); r.Body["status"] != "expired" {
		t.Fatalf("get: %s", r.Raw)
	}
	ids := func(status string) []string {
		var out []string
		for _, it := range a.do("GET", "/v1/api-keys?status="+status, admin, nil).Body["items"].([]any) {
			out = append(out, it.(map[string]any)["id"].(string))
		}
		return out
	}
	if got := ids("expired"); len(got) != 1 || got[0] != id {
		t.Fatalf("status=expired: %v", got)
	}
	if got := ids("active"); len(got) != 1 || got[0] != forever {
		t.Fatalf("status=active: %v", got)
	}
	if r := a.do("PATCH", "/v1/api-keys/"+id, admin, map[string]any{"label": "revived?"}); r.Status != 409 || r.code() != "conflict" {
		t.Fatalf("patch expired: %d %s", r.Status, r.Raw)
	}
	// Revoking an expired key is allowed: it records that the key is dead for good.
	if r := a.do("POST", "/v1/api-keys/"+id+"/revoke", admin, nil); r.Status != 200 || r.Body["status"] != "revoked" {
		t.Fatalf("revoke expired: %d %s", r.Status, r.Raw)
	}

	for name, v := range map[string]any{
		"not a time": "tomorrow", "past": time.Now().Add(-time.Hour).Format(time.RFC3339),
		"too soon": time.Now().Add(10 * time.Second).Format(time.RFC3339), "too far": time.Now().AddDate(10, 0, 0).Format(time.RFC3339),
		"number": 1700000000,
	} {
		if r := a.do("POST", "/v1/api-keys", admin, map[string]any{"label": "x", "expires_at": v}); r.Status != 400 || r.code() != "validation_failed" {
			t.Fatalf("%s: %d %s", name, r.Status, r.Raw)
		}
	}
}
