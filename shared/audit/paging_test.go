package audit_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/flowella/apikeys/local/dynamotest"
	"github.com/flowella/apikeys/shared/audit"
	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/stamp"
)

// Issue 8, finding 2: any page after the first answered 500, because the
// cursor was a filter on the sort key, which DynamoDB refuses. 260 records,
// several sharing a timestamp, read 7 at a time: each exactly once, newest
// first, with and without a filter and a time window.
func TestAuditPagesReturnEveryRecordOnce(t *testing.T) {
	db, tables := dynamotest.Setup(t)
	table := tables["AuditTable"]
	ctx := context.Background()
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var recs []audit.Record
	for i := range 260 {
		at := stamp.Of(start.Add(time.Duration(i/3) * time.Second)) // three records per instant
		id := fmt.Sprintf("aud_%04d", i)
		typ := "api_key.created"
		if i%4 == 0 {
			typ = "api_key.revoked"
		}
		recs = append(recs, audit.Record{OrgID: "org_p", SK: at.String() + "#" + id, ID: id, Type: typ, KeyID: "key_x",
			OccurredAt: at})
	}
	// Another organisation's records never show.
	recs = append(recs, audit.Record{OrgID: "org_q", SK: keystore.FormatTime(start) + "#aud_q", ID: "aud_q", Type: "api_key.created", OccurredAt: stamp.Of(start)})
	for i, err := range audit.PutAll(ctx, db, table, recs, 8) {
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	tests := []struct {
		name string
		q    audit.Query
		want func(audit.Record) bool
	}{
		{"all", audit.Query{}, func(audit.Record) bool { return true }},
		{"by type", audit.Query{Type: "api_key.revoked"}, func(r audit.Record) bool { return r.Type == "api_key.revoked" }},
		{"window", audit.Query{Since: start.Add(10 * time.Second), Until: start.Add(50 * time.Second)}, func(r audit.Record) bool {
			return r.OccurredAt >= stamp.Of(start.Add(10*time.Second)) && r.OccurredAt < stamp.Of(start.Add(50*time.Second))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want []string
			for i := len(recs) - 2; i >= 0; i-- { // newest first; org_q's last
				if tt.want(recs[i]) {
					want = append(want, recs[i].SK)
				}
			}
			var got []string
			q := tt.q
			q.Limit = 7
			for pages := 0; ; pages++ {
				if pages > 100 {
					t.Fatal("paging does not end")
				}
				page, next, err := audit.List(ctx, db, table, "org_p", q)
				if err != nil {
					t.Fatalf("page %d: %v", pages+1, err)
				}
				if len(page) > 7 || (next != "" && len(page) != 7) {
					t.Fatalf("page %d has %d records, next %q", pages+1, len(page), next)
				}
				for _, r := range page {
					got = append(got, r.SK)
				}
				if next == "" {
					break
				}
				q.Before = next
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("got %d records, want %d, in order, each once", len(got), len(want))
			}
		})
	}
}
