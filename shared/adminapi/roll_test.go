package adminapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// POST /v1/api-keys/{id}/roll: one case per status it answers (422 in
// idempotency_test.go; 401, 403, 503 in status_test.go).
func TestRollStatuses(t *testing.T) {
	a := newAPI(t)
	admin := sessionOf("org_a", "u_a", "admin")
	oldID, _ := a.createKey(admin, map[string]any{"label": "ci", "scopes": []string{"messages:send"}, "allowed_ips": []string{"198.51.100.0/24"}})
	stale := a.do("GET", "/v1/api-keys/"+oldID, admin, nil).Headers["ETag"]
	if r := a.do("PATCH", "/v1/api-keys/"+oldID, admin, map[string]any{"channels": []string{"ch_1"}}); r.Status != 200 {
		t.Fatalf("patch: %d %s", r.Status, r.Raw)
	}
	if r := a.send("POST", "/v1/api-keys/"+oldID+"/roll", admin, nil, map[string]string{"If-Match": stale}); r.Status != http.StatusPreconditionFailed || r.code() != "precondition_failed" {
		t.Fatalf("412: %d %s", r.Status, r.Raw)
	}
	if r := a.do("POST", "/v1/api-keys/key_01KMZ0000000000000000000AB/roll", admin, nil); r.Status != http.StatusNotFound || r.code() != "not_found" {
		t.Fatalf("404: %d %s", r.Status, r.Raw)
	}
	for _, body := range []string{`{"grace_period_seconds":-1}`, `{"grace_period_seconds":604801}`, `{"grace_period_seconds":"1h"}`, `{"grace":1}`} {
		if r := a.do("POST", "/v1/api-keys/"+oldID+"/roll", admin, body); r.Status != http.StatusBadRequest || r.code() != "validation_failed" {
			t.Fatalf("400 for %s: %d %s", body, r.Status, r.Raw)
		}
	}

	// 201, default: the old key is revoked at once; the new one keeps the
	// label, scopes, allowed IPs and channels.
	r := a.do("POST", "/v1/api-keys/"+oldID+"/roll", admin, nil)
	if r.Status != http.StatusCreated || r.Body["rolled_from"] != oldID || r.Body["label"] != "ci" || r.Body["secret"] == nil ||
		strings.Join(stringsOf(r.Body["scopes"]), ",") != "messages:send" || strings.Join(stringsOf(r.Body["allowed_ips"]), ",") != "198.51.100.0/24" ||
		strings.Join(stringsOf(r.Body["channels"]), ",") != "ch_1" || r.Headers["ETag"] == "" {
		t.Fatalf("201: %d %s", r.Status, r.Raw)
	}
	newID, newSecret := r.Body["id"].(string), r.Body["secret"].(string)
	replaced := r.Body["replaced"].(map[string]any)
	if replaced["status"] != "revoked" || replaced["rolled_to"] != newID || !strings.Contains(replaced["revoke_reason"].(string), newID) {
		t.Fatalf("replaced: %v", replaced)
	}
	if strings.Contains(a.do("GET", "/v1/api-keys/"+newID, admin, nil).Raw, newSecret[16:]) {
		t.Fatal("get shows the new secret")
	}
	// 201 with a grace period: the old key stays active until it expires.
	r = a.do("POST", "/v1/api-keys/"+newID+"/roll", admin, map[string]any{"grace_period_seconds": 3600})
	if r.Status != http.StatusCreated {
		t.Fatalf("roll with grace: %d %s", r.Status, r.Raw)
	}
	replaced = r.Body["replaced"].(map[string]any)
	exp, err := time.Parse(time.RFC3339, replaced["expires_at"].(string))
	if err != nil || replaced["status"] != "active" || exp.Before(time.Now().Add(59*time.Minute)) || exp.After(time.Now().Add(61*time.Minute)) {
		t.Fatalf("replaced with grace: %v", replaced)
	}
	// 409: a key already replaced and expired, or revoked, is not rolled again.
	a.expireNow("org_a", newID)
	for _, id := range []string{oldID, newID} {
		if r := a.do("POST", "/v1/api-keys/"+id+"/roll", admin, nil); r.Status != http.StatusConflict || r.code() != "conflict" {
			t.Fatalf("roll of %s: %d %s", id, r.Status, r.Raw)
		}
	}
}

// Issue 8, finding 5: `roll {"grace_period_seconds":9223372037}` answered 201
// with replaced.expires_at in 1734: the seconds were multiplied into a
// Duration, which wrapped, before the range check.
func TestRollGraceOverflowIsRefused(t *testing.T) {
	a := newAPI(t)
	admin := sessionOf("org_a", "u_a", "admin")
	id, _ := a.createKey(admin, map[string]any{"label": "overflow"})
	for _, grace := range []string{"9223372037", "9223372036854775807", "-9223372036854775808", "604801"} {
		if r := a.do("POST", "/v1/api-keys/"+id+"/roll", admin, `{"grace_period_seconds":`+grace+`}`); r.Status != 400 || r.code() != "validation_failed" {
			t.Fatalf("grace %s: %d %s", grace, r.Status, r.Raw)
		}
	}
	if r := a.do("GET", "/v1/api-keys/"+id, admin, nil); r.Body["status"] != "active" || r.Body["expires_at"] != nil || r.Body["rolled_to"] != nil {
		t.Fatalf("refused rolls changed the key: %s", r.Raw)
	}
}

// Issue 8, finding 6: rolling a key again during its grace period made a
// second successor, which took over rolled_to and left the first one active
// and unlinked. Now it is 409, naming the live successor.
func TestRollDuringGraceIsConflict(t *testing.T) {
	a := newAPI(t)
	admin := sessionOf("org_a", "u_a", "admin")
	id, _ := a.createKey(admin, map[string]any{"label": "twice"})
	first := a.do("POST", "/v1/api-keys/"+id+"/roll", admin, map[string]any{"grace_period_seconds": 3600})
	if first.Status != 201 {
		t.Fatalf("first roll: %d %s", first.Status, first.Raw)
	}
	next := first.Body["id"].(string)
	r := a.do("POST", "/v1/api-keys/"+id+"/roll", admin, map[string]any{"grace_period_seconds": 3600})
	if r.Status != 409 || r.code() != "conflict" || !strings.Contains(r.Raw, next) {
		t.Fatalf("second roll during the grace period: %d %s", r.Status, r.Raw)
	}
	if old := a.do("GET", "/v1/api-keys/"+id, admin, nil); old.Body["rolled_to"] != next {
		t.Fatalf("rolled_to after the refused roll: %s", old.Raw)
	}
	if ids := a.keyIDs(admin); len(ids) != 2 {
		t.Fatalf("%d keys, want the old one and one successor: %v", len(ids), ids)
	}
	// Once the successor is revoked, the key (still in its grace period) may be rolled again.
	if r := a.do("POST", "/v1/api-keys/"+next+"/revoke", admin, nil); r.Status != 200 {
		t.Fatalf("revoke of the successor: %d %s", r.Status, r.Raw)
	}
	if r := a.do("POST", "/v1/api-keys/"+id+"/roll", admin, map[string]any{"grace_period_seconds": 3600}); r.Status != 201 {
		t.Fatalf("roll after the successor was revoked: %d %s", r.Status, r.Raw)
	}
}

// A successor rolled in its turn (revoked at once) leaves a live
// descendant: the key it replaced, still in its grace period, is not
// rolled again, which would leave two live descendants, one unlinked.
func TestRollWithALiveDescendantIsConflict(t *testing.T) {
	a := newAPI(t)
	admin := sessionOf("org_a", "u_a", "admin")
	id, _ := a.createKey(admin, map[string]any{"label": "chain"})
	first := a.do("POST", "/v1/api-keys/"+id+"/roll", admin, map[string]any{"grace_period_seconds": 3600})
	if first.Status != 201 {
		t.Fatalf("first roll: %d %s", first.Status, first.Raw)
	}
	second := a.do("POST", "/v1/api-keys/"+first.Body["id"].(string)+"/roll", admin, nil)
	if second.Status != 201 {
		t.Fatalf("roll of the successor: %d %s", second.Status, second.Raw)
	}
	live := second.Body["id"].(string)
	r := a.do("POST", "/v1/api-keys/"+id+"/roll", admin, nil)
	if r.Status != 409 || r.code() != "conflict" || !strings.Contains(r.Raw, live) {
		t.Fatalf("roll of a key with a live descendant: %d %s", r.Status, r.Raw)
	}
	if ids := a.keyIDs(admin); len(ids) != 3 {
		t.Fatalf("%d keys, want the key, its revoked successor and the live one: %v", len(ids), ids)
	}
}
