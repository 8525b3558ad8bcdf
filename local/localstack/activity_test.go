package localstack_test

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// delivered keeps every log batch the stack's subscriptions delivered, as
// sent, to deliver them again.
type delivered struct {
	mu      sync.Mutex
	batches [][]byte
}

func (d *delivered) add(_ string, event []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.batches = append(d.batches, event)
}

func (d *delivered) all() [][]byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.batches)
}

// A key's requests — allowed, refused for a missing scope, refused after
// its revocation — reach its activity, usage and exposure through the
// access log's and the authorizer's subscription filters, exactly; another
// organisation's admin sees none of it; a batch delivered again changes
// nothing.
func TestKeyActivityUsageAndExposure(t *testing.T) {
	h := newHarness(t)
	batches := &delivered{}
	h.stack.Logs.OnDelivered(batches.add)
	admin := h.token("org_a", "u_admin", "admin")
	id, secret := h.createKey(admin, map[string]any{"label": "leaky", "scopes": []string{"messages:send"}})

	type want struct {
		status        int
		outcome, path string
		reason        any
	}
	sent := map[string]want{}
	started := time.Now()
	for i := range 30 {
		var r response
		switch {
		case i%3 == 2: // 10 refused: the key lacks contacts:read
			r = h.do("GET", "/v1/contacts", secret, nil)
			sent[r.ExtendedID] = want{403, "refused", "/v1/contacts", "scope_missing"}
		case i%2 == 0:
			r = h.do("POST", "/v1/messages", secret, map[string]any{"to": "+15550100"})
			sent[r.ExtendedID] = want{200, "allowed", "/v1/messages", nil}
		default:
			r = h.do("GET", "/v1/whoami", secret, nil)
			sent[r.ExtendedID] = want{200, "allowed", "/v1/whoami", nil}
		}
		if r.Status != sent[r.ExtendedID].status {
			t.Fatalf("request %d: %d %s", i, r.Status, r.Raw)
		}
	}
	if r := h.do("POST", "/v1/api-keys/"+id+"/revoke", admin, map[string]any{"reason": "committed to a public repo"}); r.Status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.Status, r.Raw)
	}
	for range 5 {
		r := h.do("GET", "/v1/whoami", secret, nil)
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("after revoke: %d %s", r.Status, r.Raw)
		}
		sent[r.ExtendedID] = want{401, "refused", "/v1/whoami", "revoked"}
	}
	if len(sent) != 35 {
		t.Fatalf("%d distinct request ids", len(sent))
	}

	// Activity: all 35, each complete: the 403s merged from both logs, the
	// 401s from the authorizer's line alone (their access-log line names no
	// key, so they have no latency).
	var items []any
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := h.do("GET", "/v1/api-keys/"+id+"/activity?limit=100", admin, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("activity: %d %s", r.Status, r.Raw)
		}
		items, _ = r.Body["items"].([]any)
		if complete(items) == 35 && r.Body["next_cursor"] == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("activity after 15 s: %d items, %d complete:\n%s", len(items), complete(items), r.Raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("all 35 requests complete in the activity %v after the first was sent", time.Since(started).Round(time.Millisecond))
	for _, it := range items {
		a := it.(map[string]any)
		w, ok := sent[a["request_id"].(string)]
		if !ok || a["status"] != float64(w.status) || a["outcome"] != w.outcome || a["path"] != w.path || a["route"] != w.path ||
			a["reason"] != w.reason || a["source_ip"] != "127.0.0.1" || a["user_agent"] != "flowella-test/1.0" ||
			(a["latency_ms"] == nil) != (w.status == http.StatusUnauthorized) {
			t.Errorf("activity item %v, want %+v", a, w)
		}
	}
	// Filters and pages.
	refused := h.do("GET", "/v1/api-keys/"+id+"/activity?outcome=refused&status=4xx&limit=100", admin, nil)
	if n := len(refused.Body["items"].([]any)); n != 15 {
		t.Fatalf("refused 4xx: %d items, want 15", n)
	}
	seen, cursor := 0, ""
	for page := 0; ; page++ {
		path := "/v1/api-keys/" + id + "/activity?status=401&limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		r := h.do("GET", path, admin, nil)
		seen += len(r.Body["items"].([]any))
		next, _ := r.Body["next_cursor"].(string)
		if next == "" || page > 10 {
			break
		}
		cursor = next
	}
	if seen != 5 {
		t.Fatalf("401s over pages of 2: %d, want 5", seen)
	}

	// Usage: exact, from the counters.
	wantTotals := map[string]any{"requests": 35.0, "allowed": 20.0, "refused": 15.0,
		"by_status_class": map[string]any{"2xx": 20.0, "4xx": 15.0}, "refused_by_reason": map[string]any{"scope_missing": 10.0, "revoked": 5.0}}
	for _, g := range []string{"hour", "day"} {
		u := h.do("GET", "/v1/api-keys/"+id+"/usage?granularity="+g, admin, nil)
		if u.Status != http.StatusOK || !reflect.DeepEqual(u.Body["totals"], wantTotals) || u.Body["granularity"] != g {
			t.Fatalf("usage by %s: %d %s", g, u.Status, u.Raw)
		}
		sum := 0.0
		for _, b := range u.Body["buckets"].([]any) {
			sum += b.(map[string]any)["requests"].(float64)
		}
		if sum != 35 {
			t.Fatalf("usage by %s: buckets add up to %v", g, sum)
		}
	}

	// Exposure: one address, 35 requests; the allowed changes by route.
	e := h.do("GET", "/v1/api-keys/"+id+"/exposure", admin, nil)
	ips, _ := e.Body["source_ips"].([]any)
	changes, _ := e.Body["changes_by_route"].([]any)
	if e.Status != http.StatusOK || len(ips) != 1 || len(changes) != 1 {
		t.Fatalf("exposure: %d %s", e.Status, e.Raw)
	}
	ip := ips[0].(map[string]any)
	if ip["ip"] != "127.0.0.1" || ip["requests"] != 35.0 || ip["allowed"] != 20.0 || ip["refused"] != 15.0 || ip["first_seen"].(string) > ip["last_seen"].(string) {
		t.Fatalf("exposure source: %v", ip)
	}
	if c := changes[0].(map[string]any); c["method"] != "POST" || c["route"] != "/v1/messages" || c["requests"] != 10.0 {
		t.Fatalf("exposure changes: %v", c)
	}

	// Another organisation's admin, and a key that does not exist: 404.
	other := h.token("org_b", "u_b", "admin")
	for _, p := range []string{"activity", "usage", "exposure"} {
		for _, c := range []struct{ token, path string }{
			{other, "/v1/api-keys/" + id + "/" + p},
			{admin, "/v1/api-keys/key_01KMZ0000000000000000000ZZ/" + p},
		} {
			if r := h.do("GET", c.path, c.token, nil); r.Status != http.StatusNotFound || code(r) != "not_found" {
				t.Errorf("%s: %d %s", c.path, r.Status, r.Raw)
			}
		}
	}

	// Writes per request, from the function's own account of each batch.
	writes, reads, recorded := 0, 0, 0
	for _, line := range strings.Split(h.logs.String(), "\n") {
		var l struct {
			Msg          string
			WriteItems   int `json:"write_items"`
			Reads        int
			RecordedFrom int `json:"recorded_from"`
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "key activity recorded" {
			writes, reads, recorded = writes+l.WriteItems, reads+l.Reads, recorded+l.RecordedFrom
		}
	}
	t.Logf("%d log lines recorded from for 35 requests: %d items written (%.2f per request), %d read", recorded, writes,
		float64(writes)/35, reads)

	// The same batches delivered again change nothing.
	before := h.snapshot("ActivityTable")
	for _, b := range batches.all() {
		out, err := h.stack.Handlers["KeyActivityFunction"].Invoke(context.Background(), b)
		if err != nil || strings.Contains(string(out), "errorMessage") {
			t.Fatalf("redelivery: %v %s", err, out)
		}
	}
	if after := h.snapshot("ActivityTable"); !slices.Equal(before, after) {
		t.Fatalf("delivering %d batches again changed the activity table", len(batches.all()))
	}
	if u := h.do("GET", "/v1/api-keys/"+id+"/usage", admin, nil); !reflect.DeepEqual(u.Body["totals"], wantTotals) {
		t.Fatalf("usage after redelivery: %s", u.Raw)
	}
	t.Logf("%d delivered batches delivered again: activity table unchanged", len(batches.all()))
}

// complete counts activity items that have every part their logs give: an
// allowed request's latency (the access log); a 403's latency and reason
// (both logs); a 401's reason (the authorizer's line, its only one).
func complete(items []any) int {
	n := 0
	for _, it := range items {
		a := it.(map[string]any)
		switch {
		case a["outcome"] == "allowed" && a["latency_ms"] != nil,
			a["outcome"] == "refused" && a["reason"] != nil && (a["latency_ms"] != nil || a["status"] == float64(http.StatusUnauthorized)):
			n++
		}
	}
	return n
}
