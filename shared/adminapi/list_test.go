package adminapi_test

import (
	"fmt"
	"testing"
)

// GET /v1/api-keys: 200 (below), 400 (validate_test.go,
// strict_requests_test.go); 401, 403, 503 in status_test.go.

// Pages of at most limit keys, newest first, until next_cursor runs out;
// the first page warns of many active keys; a cursor is the organisation's own.
func TestListPagesAndWarns(t *testing.T) {
	a := newAPI(t)
	admin := sessionOf("org_a", "u_a", "admin")
	var ids []string
	for i := 0; i < 52; i++ {
		id, _ := a.createKey(admin, map[string]any{"label": fmt.Sprintf("key %d", i)})
		ids = append(ids, id)
	}
	var seen []string
	cursor := ""
	for page := 0; page < 10; page++ {
		path := "/v1/api-keys?limit=20"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		r := a.do("GET", path, admin, nil)
		if r.Status != 200 {
			t.Fatalf("list: %d %s", r.Status, r.Raw)
		}
		if page == 0 {
			w := r.Body["warnings"].([]any)
			if len(w) != 1 || w[0].(map[string]any)["code"] != "many_active_keys" {
				t.Fatalf("warnings: %v", w)
			}
		}
		for _, it := range r.Body["items"].([]any) {
			seen = append(seen, it.(map[string]any)["id"].(string))
		}
		next, _ := r.Body["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(seen) != 52 || seen[0] != ids[51] || seen[51] != ids[0] {
		t.Fatalf("listed %d keys, first %s last %s", len(seen), seen[0], seen[len(seen)-1])
	}
	// A cursor from org_a's list reads nothing of org_a for org_b.
	other := a.do("GET", "/v1/api-keys?cursor="+cursor, sessionOf("org_b", "u_b", "owner"), nil)
	if other.Status != 200 || len(other.Body["items"].([]any)) != 0 {
		t.Fatalf("cursor across orgs: %d %s", other.Status, other.Raw)
	}
}

// The status filter: active, revoked, expired.
func TestListByStatus(t *testing.T) {
	a := newAPI(t)
	admin := sessionOf("org_a", "u_a", "admin")
	active, _ := a.createKey(admin, map[string]any{"label": "active"})
	revoked, _ := a.createKey(admin, map[string]any{"label": "revoked"})
	expired, _ := a.createKey(admin, map[string]any{"label": "expired"})
	if r := a.do("POST", "/v1/api-keys/"+revoked+"/revoke", admin, nil); r.Status != 200 {
		t.Fatalf("revoke: %d %s", r.Status, r.Raw)
	}
	a.expireNow("org_a", expired)
	for status, want := range map[string]string{"active": active, "revoked": revoked, "expired": expired} {
		r := a.do("GET", "/v1/api-keys?status="+status, admin, nil)
		items, _ := r.Body["items"].([]any)
		if r.Status != 200 || len(items) != 1 || items[0].(map[string]any)["id"] != want || items[0].(map[string]any)["status"] != status {
			t.Fatalf("status=%s: %d %s", status, r.Status, r.Raw)
		}
	}
	if ids := a.keyIDs(admin); len(ids) != 3 {
		t.Fatalf("unfiltered: %v", ids)
	}
}
