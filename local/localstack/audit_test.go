package localstack_test

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// auditItems reads every audit record of org straight from the table.
func (h *harness) auditItems(org string) []map[string]any {
	h.t.Helper()
	var out []map[string]any
	r := h.do("GET", "/v1/audit-events?limit=100", h.token(org, "u_reader", "owner"), nil)
	for r.Status == 200 {
		for _, it := range r.Body["items"].([]any) {
			out = append(out, it.(map[string]any))
		}
		next, _ := r.Body["next_cursor"].(string)
		if next == "" {
			break
		}
		r = h.do("GET", "/v1/audit-events?limit=100&cursor="+next, h.token(org, "u_reader", "owner"), nil)
	}
	if r.Status != 200 {
		h.t.Fatalf("audit events: %d %s", r.Status, r.Raw)
	}
	return out
}

// waitAudit waits until org has n audit records and returns them.
func (h *harness) waitAudit(org string, n int) []map[string]any {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		items := h.auditItems(org)
		if len(items) >= n || time.Now().After(deadline) {
			return items
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestMutationsYieldExactlyOneAuditRecordEach(t *testing.T) {
	h := newHarness(t)
	type expect struct{ typ, user, requestID string }
	var mu sync.Mutex
	var want []expect
	record := func(typ, user string, r response) {
		mu.Lock()
		want = append(want, expect{typ, user, r.RequestID})
		mu.Unlock()
	}
	// Create 6 keys concurrently, by two admins.
	ids := make([]string, 6)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := fmt.Sprintf("u_admin%d", i%2)
			r := h.do("POST", "/v1/api-keys", h.token("org_a", user, "admin"), map[string]any{"label": fmt.Sprintf("k%d", i)})
			if r.Status != 201 {
				t.Errorf("create: %d %s", r.Status, r.Raw)
				return
			}
			ids[i] = r.Body["id"].(string)
			record("api_key.created", user, r)
		}()
	}
	wg.Wait()
	owner := h.token("org_a", "u_owner", "owner")
	// Relabel, re-scope, both at once, and concurrent revokes of the rest.
	r := h.do("PATCH", "/v1/api-keys/"+ids[0], owner, map[string]any{"label": "renamed"})
	record("api_key.label_changed", "u_owner", r)
	r = h.do("PATCH", "/v1/api-keys/"+ids[1], owner, map[string]any{"scopes": []string{"messages:send"}})
	record("api_key.scopes_changed", "u_owner", r)
	r = h.do("PATCH", "/v1/api-keys/"+ids[2], owner, map[string]any{"label": "both", "scopes": []string{"contacts:read"}})
	record("api_key.scopes_changed", "u_owner", r)
	record("api_key.label_changed", "u_owner", r)
	// A PATCH that changes nothing is not a change.
	if r := h.do("PATCH", "/v1/api-keys/"+ids[0], owner, map[string]any{"label": "renamed"}); r.Status != 200 {
		t.Fatalf("no-op patch: %d", r.Status)
	}
	for _, id := range ids[3:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, who := range []string{"u_owner", "u_owner"} { // the second is a 409
				r := h.do("POST", "/v1/api-keys/"+id+"/revoke", owner, map[string]any{"reason": "rotation"})
				if r.Status == 200 {
					record("api_key.revoked", who, r)
				}
			}
		}()
	}
	wg.Wait()
	if len(want) != 13 {
		t.Fatalf("%d mutations, want 13", len(want))
	}

	h.waitAudit("org_a", len(want))
	time.Sleep(300 * time.Millisecond) // a late duplicate would show up now
	items := h.auditItems("org_a")
	if len(items) != len(want) {
		t.Fatalf("%d audit records for %d changes", len(items), len(want))
	}
	var got []expect
	for _, it := range items {
		actor := it["actor"].(map[string]any)
		trace := it["trace"].(map[string]any)
		if actor["ip"] != "127.0.0.1" || actor["user_agent"] != "flowella-test/1.0" || trace["traceparent"] == "" || it["org_id"] != "org_a" {
			t.Fatalf("record: %v", it)
		}
		got = append(got, expect{it["type"].(string), actor["user_id"].(string), trace["request_id"].(string)})
	}
	key := func(e expect) string { return e.requestID + e.typ + e.user }
	sort.Slice(want, func(i, j int) bool { return key(want[i]) < key(want[j]) })
	sort.Slice(got, func(i, j int) bool { return key(got[i]) < key(got[j]) })
	for i := range want {
		if want[i] != got[i] {
			t.Fatalf("record %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	// Newest first.
	for i := 1; i < len(items); i++ {
		if items[i-1]["occurred_at"].(string) < items[i]["occurred_at"].(string) {
			t.Fatalf("not newest first at %d", i)
		}
	}
}

func TestAuditEventsByKeyAndIsolation(t *testing.T) {
	h := newHarness(t)
	admin := h.token("org_a", "u_a", "admin")
	id, _ := h.createKey(admin, map[string]any{"label": "audited"})
	h.createKey(admin, map[string]any{"label": "other"})
	h.do("POST", "/v1/api-keys/"+id+"/revoke", admin, map[string]any{"reason": "done"})
	h.createKey(h.token("org_b", "u_b", "owner"), map[string]any{"label": "b's"})
	h.waitAudit("org_a", 3)
	h.waitAudit("org_b", 1)

	r := h.do("GET", "/v1/audit-events?key_id="+id, admin, nil)
	items := r.Body["items"].([]any)
	if r.Status != 200 || len(items) != 2 {
		t.Fatalf("by key: %d %s", r.Status, r.Raw)
	}
	first, second := items[0].(map[string]any), items[1].(map[string]any)
	if first["type"] != "api_key.revoked" || second["type"] != "api_key.created" || first["key_id"] != id {
		t.Fatalf("order or types: %s", r.Raw)
	}
	if after := first["after"].(map[string]any); after["status"] != "revoked" || after["revoke_reason"] != "done" {
		t.Fatalf("revoked after: %v", after)
	}
	if r := h.do("GET", "/v1/audit-events?type=api_key.revoked", admin, nil); len(r.Body["items"].([]any)) != 1 {
		t.Fatalf("by type: %s", r.Raw)
	}
	// org_b sees only its own record, even when asking for org_a's key.
	bTok := h.token("org_b", "u_b", "admin")
	if r := h.do("GET", "/v1/audit-events?key_id="+id, bTok, nil); len(r.Body["items"].([]any)) != 0 {
		t.Fatalf("org_b reads org_a's audit: %s", r.Raw)
	}
	if items := h.auditItems("org_b"); len(items) != 1 || items[0]["org_id"] != "org_b" {
		t.Fatalf("org_b: %v", items)
	}
	// Time window and paging.
	created := second["occurred_at"].(string)
	for _, it := range h.do("GET", "/v1/audit-events?until="+url.QueryEscape(created), admin, nil).Body["items"].([]any) {
		if it.(map[string]any)["occurred_at"].(string) >= created {
			t.Fatalf("until is exclusive, got a record at %v", it.(map[string]any)["occurred_at"])
		}
	}
	page := h.do("GET", "/v1/audit-events?limit=1&since="+url.QueryEscape(created), admin, nil)
	if len(page.Body["items"].([]any)) != 1 || page.Body["next_cursor"] == nil {
		t.Fatalf("paging: %s", page.Raw)
	}
	// No audit_log feature: 403 feature_not_enabled.
	c := h.do("GET", "/v1/audit-events", h.token("org_c", "u_c", "owner"), nil)
	if c.Status != 403 || code(c) != "feature_not_enabled" {
		t.Fatalf("org without audit_log: %d %s", c.Status, c.Raw)
	}
	for _, q := range []string{"type=api_key.deleted", "key_id=nope", "since=yesterday", "limit=500", "cursor=xyz", "foo=1",
		"since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z"} {
		if r := h.do("GET", "/v1/audit-events?"+q, admin, nil); r.Status != 400 || code(r) != "validation_failed" {
			t.Fatalf("%s: %d %s", q, r.Status, r.Raw)
		}
	}
	if r := h.do("GET", "/v1/audit-events", h.token("org_a", "u_m", "member"), nil); r.Status != 403 {
		t.Fatalf("member: %d", r.Status)
	}
}

func TestLastUsedWritesProduceNoAuditRecord(t *testing.T) {
	h := newHarness(t)
	admin := h.token("org_a", "u_a", "admin")
	id, secret := h.createKey(admin, map[string]any{"label": "busy"})
	for i := 0; i < 1000; i++ {
		if r := h.do("GET", "/v1/whoami", secret, nil); r.Status != 200 {
			t.Fatalf("request %d: %d", i, r.Status)
		}
	}
	// Real last-used writes a minute apart each, a thousand of them: every
	// one is a stream record.
	k, err := h.store.Get(context.Background(), "org_a", id)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(2 * time.Minute)
	for i := 0; i < 1000; i++ {
		wrote, err := h.store.TouchLastUsed(context.Background(), k.Hash, start.Add(time.Duration(i)*61*time.Second))
		if err != nil || !wrote {
			t.Fatalf("touch %d: %v %v", i, wrote, err)
		}
	}
	// A marker change after them: once it is audited, the stream has been
	// read past every last-used write.
	h.do("PATCH", "/v1/api-keys/"+id, admin, map[string]any{"label": "marker"})
	h.waitAudit("org_a", 2)
	time.Sleep(200 * time.Millisecond)
	items := h.auditItems("org_a")
	if len(items) != 2 || items[0]["type"] != "api_key.label_changed" || items[1]["type"] != "api_key.created" {
		t.Fatalf("audit records: %v", items)
	}
}

// The delay from a change's response to its record in GET /v1/audit-events,
// for the note on the audit issue. Reported, not asserted.
func TestAuditDelay(t *testing.T) {
	h := newHarness(t)
	admin := h.token("org_a", "u_a", "admin")
	var delays []time.Duration
	for i := 0; i < 20; i++ {
		h.createKey(admin, map[string]any{"label": fmt.Sprintf("d%d", i)})
		start := time.Now()
		h.waitAudit("org_a", i+1)
		delays = append(delays, time.Since(start))
	}
	sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
	t.Logf("audit delay over %d creates: median %v, worst %v", len(delays), delays[len(delays)/2], delays[len(delays)-1])
	scan, _ := h.db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(h.tables["AuditTable"]), Select: "COUNT"})
	if scan.Count != 20 {
		t.Fatalf("%d audit items for 20 creates", scan.Count)
	}
}
