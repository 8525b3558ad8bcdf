package adminapi_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/flowella/apikeys/shared/audit"
	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/stamp"
)

// GET /v1/audit-events: 200, 400 and 403 feature_not_enabled (below); 401,
// 403 for roles, 503 in status_test.go. The records are written here as the
// audit function writes them; how a key change becomes a record is tested
// in shared/audit and, through the stream, in local/localstack.

// putAudit stores a record of org about key, occurred at.
func (a *apiHarness) putAudit(org, typ, keyID string, at time.Time) audit.Record {
	a.t.Helper()
	occurred := stamp.Of(at)
	id := fmt.Sprintf("aud_%026d", a.reqs.Add(1))
	r := audit.Record{OrgID: org, SK: occurred.String() + "#" + id, ID: id, Type: typ, KeyID: keyID, KeyPrefix: "flwl_live_abcdef",
		Actor: keystore.Actor{UserID: "u_a", IP: "203.0.113.7", UserAgent: "test"}, Trace: keystore.Trace{RequestID: "r_" + id},
		OccurredAt: occurred, Before: map[string]any{}, After: map[string]any{"status": "active"}}
	if err := audit.Put(context.Background(), a.db, a.tables["AuditTable"], r); err != nil {
		a.t.Fatal(err)
	}
	return r
}

func TestAuditEventsStatuses(t *testing.T) {
	a := newAPI(t)
	admin := sessionOf("org_a", "u_a", "admin")
	key, other := keystore.NewID(), keystore.NewID()
	t0 := time.Now().Add(-time.Hour).UTC()
	created := a.putAudit("org_a", audit.TypeCreated, key, t0)
	a.putAudit("org_a", audit.TypeCreated, other, t0.Add(time.Second))
	revoked := a.putAudit("org_a", audit.TypeRevoked, key, t0.Add(2*time.Second))
	a.putAudit("org_b", audit.TypeCreated, keystore.NewID(), t0)

	ids := func(r apiResponse) []string {
		t.Helper()
		if r.Status != 200 {
			t.Fatalf("%d %s", r.Status, r.Raw)
		}
		var out []string
		for _, it := range r.Body["items"].([]any) {
			out = append(out, it.(map[string]any)["id"].(string))
		}
		return out
	}
	// 200: by key, newest first; by type; org_b's records are its own.
	if got := ids(a.do("GET", "/v1/audit-events?key_id="+key, admin, nil)); fmt.Sprint(got) != fmt.Sprint([]string{revoked.ID, created.ID}) {
		t.Fatalf("by key: %v", got)
	}
	if got := ids(a.do("GET", "/v1/audit-events?type=api_key.revoked", admin, nil)); len(got) != 1 || got[0] != revoked.ID {
		t.Fatalf("by type: %v", got)
	}
	b := sessionOf("org_b", "u_b", "admin")
	if got := ids(a.do("GET", "/v1/audit-events?key_id="+key, b, nil)); len(got) != 0 {
		t.Fatalf("org_b reads org_a's audit: %v", got)
	}
	if got := ids(a.do("GET", "/v1/audit-events", b, nil)); len(got) != 1 {
		t.Fatalf("org_b: %v", got)
	}
	// until is exclusive; since and a page of one with a cursor.
	for _, it := range a.do("GET", "/v1/audit-events?until="+url.QueryEscape(created.OccurredAt.String()), admin, nil).Body["items"].([]any) {
		if it.(map[string]any)["occurred_at"].(string) >= created.OccurredAt.String() {
			t.Fatalf("until is exclusive, got a record at %v", it.(map[string]any)["occurred_at"])
		}
	}
	page := a.do("GET", "/v1/audit-events?limit=1&since="+url.QueryEscape(created.OccurredAt.String()), admin, nil)
	if len(ids(page)) != 1 || page.Body["next_cursor"] == nil {
		t.Fatalf("paging: %s", page.Raw)
	}
	rest := a.do("GET", "/v1/audit-events?limit=5&cursor="+page.Body["next_cursor"].(string), admin, nil)
	if got := ids(rest); len(got) != 2 || rest.Body["next_cursor"] != nil {
		t.Fatalf("second page: %s", rest.Raw)
	}
	// 403: no audit_log feature.
	if c := a.do("GET", "/v1/audit-events", sessionOf("org_c", "u_c", "owner"), nil); c.Status != 403 || c.code() != "feature_not_enabled" {
		t.Fatalf("org without audit_log: %d %s", c.Status, c.Raw)
	}
	// 400, before anything is read.
	for _, q := range []string{"type=api_key.deleted", "key_id=nope", "since=yesterday", "limit=500", "cursor=xyz", "foo=1",
		"since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z",
		// Valid RFC 3339, but in year 10000 or 0 once in UTC.
		"since=9999-12-31T12:00:00Z&until=9999-12-31T23:00:00-02:00", "until=0000-01-01T00:30:00%2B01:00"} {
		if r := a.do("GET", "/v1/audit-events?"+q, admin, nil); r.Status != 400 || r.code() != "validation_failed" {
			t.Fatalf("%s: %d %s", q, r.Status, r.Raw)
		}
	}
}
