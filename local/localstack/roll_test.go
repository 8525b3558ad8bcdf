package localstack_test

import (
	"strings"
	"testing"
	"time"
)

func TestRoll(t *testing.T) {
	h := newHarness(t)
	admin := h.token("org_a", "u_a", "admin")
	oldID, oldSecret := h.createKey(admin, map[string]any{"label": "ci", "scopes": []string{"messages:send"}})

	// Default: the old key is revoked at once.
	r := h.do("POST", "/v1/api-keys/"+oldID+"/roll", admin, nil)
	if r.Status != 201 || r.Body["rolled_from"] != oldID || r.Body["label"] != "ci" || r.Body["secret"] == nil {
		t.Fatalf("roll: %d %s", r.Status, r.Raw)
	}
	newID, newSecret := r.Body["id"].(string), r.Body["secret"].(string)
	replaced := r.Body["replaced"].(map[string]any)
	if replaced["status"] != "revoked" || replaced["rolled_to"] != newID || !strings.Contains(replaced["revoke_reason"].(string), newID) {
		t.Fatalf("replaced: %v", replaced)
	}
	if r := h.do("GET", "/v1/whoami", oldSecret, nil); r.Status != 401 {
		t.Fatalf("old key after roll: %d", r.Status)
	}
	who := h.do("GET", "/v1/whoami", newSecret, nil)
	if who.Status != 200 || who.Body["key_id"] != newID || len(who.Body["scopes"].([]any)) != 1 {
		t.Fatalf("new key: %d %s", who.Status, who.Raw)
	}
	if strings.Contains(h.do("GET", "/v1/api-keys/"+newID, admin, nil).Raw, newSecret[16:]) {
		t.Fatal("get shows the new secret")
	}

	// With a grace period both keys work until the old one expires.
	r = h.do("POST", "/v1/api-keys/"+newID+"/roll", admin, map[string]any{"grace_period_seconds": 3600})
	if r.Status != 201 {
		t.Fatalf("roll with grace: %d %s", r.Status, r.Raw)
	}
	third := r.Body["secret"].(string)
	replaced = r.Body["replaced"].(map[string]any)
	exp, err := time.Parse(time.RFC3339, replaced["expires_at"].(string))
	if err != nil || replaced["status"] != "active" || exp.Before(time.Now().Add(59*time.Minute)) || exp.After(time.Now().Add(61*time.Minute)) {
		t.Fatalf("replaced with grace: %v", replaced)
	}
	for _, s := range []string{newSecret, third} {
		if r := h.do("GET", "/v1/whoami", s, nil); r.Status != 200 {
			t.Fatalf("during grace: %d", r.Status)
		}
	}
	h.expireNow(newID)
	if r := h.do("GET", "/v1/whoami", newSecret, nil); r.Status != 401 {
		t.Fatalf("after grace: %d", r.Status)
	}
	// Refused rolls (409, 400, 404) are tested beside the endpoint
	// (shared/adminapi/roll_test.go).

	// Audit: created ×3, the first roll (rolled + revoked), the second
	// (rolled), and the test's own direct write of expires_at (expireNow),
	// which no admin request made: api_key.unattributed_change.
	items := h.waitAudit("org_a", 7)
	var types []string
	for _, it := range items {
		types = append(types, it["type"].(string)+":"+it["key_id"].(string))
	}
	got := strings.Join(types, " ")
	for _, want := range []string{"api_key.rolled:" + oldID, "api_key.revoked:" + oldID, "api_key.created:" + newID, "api_key.rolled:" + newID,
		"api_key.unattributed_change:" + newID} {
		if !strings.Contains(got, want) {
			t.Fatalf("audit lacks %s: %s", want, got)
		}
	}
	if len(items) != 7 {
		t.Fatalf("%d audit records: %s", len(items), got)
	}
}
