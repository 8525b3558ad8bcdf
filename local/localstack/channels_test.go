package localstack_test

import (
	"strings"
	"testing"
)

func TestChannelScopedKeys(t *testing.T) {
	h := newHarness(t)
	admin := h.token("org_a", "u_a", "admin")
	id, secret := h.createKey(admin, map[string]any{"label": "one number", "scopes": []string{"messages:send"}, "channels": []string{"ch_1", "ch_1", "wa-2"}})
	r := h.do("POST", "/v1/channels/ch_1/messages", secret, map[string]any{"to": "+15550100"})
	if r.Status != 200 || strings.Join(toStrings(r.Body["channels"]), ",") != "ch_1,wa-2" {
		t.Fatalf("own channel: %d %s", r.Status, r.Raw)
	}
	if r := h.do("POST", "/v1/channels/ch_9/messages", secret, map[string]any{}); r.Status != 403 {
		t.Fatalf("other channel: %d %s", r.Status, r.Raw)
	}
	// A path that names no channel passes, with the list for the backend to enforce.
	if r := h.do("POST", "/v1/messages", secret, map[string]any{}); r.Status != 200 || len(toStrings(r.Body["channels"])) != 2 {
		t.Fatalf("no channel in the path: %d %s", r.Status, r.Raw)
	}
	if r := h.do("PATCH", "/v1/api-keys/"+id, admin, map[string]any{"channels": []string{}}); r.Status != 200 {
		t.Fatalf("lift: %d %s", r.Status, r.Raw)
	}
	if r := h.do("POST", "/v1/channels/ch_9/messages", secret, map[string]any{}); r.Status != 200 {
		t.Fatalf("after lifting: %d", r.Status)
	}
	items := h.waitAudit("org_a", 2)
	if items[0]["type"] != "api_key.channels_changed" {
		t.Fatalf("audit: %v", items[0])
	}
}

func toStrings(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		out = append(out, x.(string))
	}
	return out
}
