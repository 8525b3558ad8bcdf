package localstack_test

import "testing"

func TestAllowedIPs(t *testing.T) {
	h := newHarness(t)
	admin := h.token("org_a", "u_a", "admin")
	r := h.do("POST", "/v1/api-keys", admin, map[string]any{"label": "office", "allowed_ips": []string{"127.0.0.1", "::1", "10.1.2.3/8"}})
	if r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Raw)
	}
	if r := h.do("GET", "/v1/whoami", r.Body["secret"].(string), nil); r.Status != 200 {
		t.Fatalf("from an allowed address: %d", r.Status)
	}

	id, secret := h.createKey(admin, map[string]any{"label": "elsewhere", "allowed_ips": []string{"203.0.113.0/24", "2001:db8::/32"}})
	if r := h.do("GET", "/v1/whoami", secret, nil); r.Status != 403 {
		t.Fatalf("from outside the allow-list: %d %s", r.Status, r.Raw)
	}
	if r := h.do("PATCH", "/v1/api-keys/"+id, admin, map[string]any{"allowed_ips": []string{}}); r.Status != 200 || len(r.Body["allowed_ips"].([]any)) != 0 {
		t.Fatalf("lift: %d %s", r.Status, r.Raw)
	}
	if r := h.do("GET", "/v1/whoami", secret, nil); r.Status != 200 {
		t.Fatalf("after lifting: %d", r.Status)
	}

	// The allow-list follows a roll, and its changes are audited.
	h.do("PATCH", "/v1/api-keys/"+id, admin, map[string]any{"allowed_ips": []string{"198.51.100.0/24"}})
	rolled := h.do("POST", "/v1/api-keys/"+id+"/roll", admin, nil)
	if rolled.Status != 201 || len(rolled.Body["allowed_ips"].([]any)) != 1 {
		t.Fatalf("roll: %d %s", rolled.Status, rolled.Raw)
	}
	items := h.waitAudit("org_a", 7)
	n := 0
	for _, it := range items {
		if it["type"] == "api_key.allowed_ips_changed" && it["key_id"] == id {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d allowed_ips_changed records, want 2", n)
	}
}
