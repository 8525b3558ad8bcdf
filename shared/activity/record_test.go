package activity

import (
	"reflect"
	"testing"
	"time"

	"github.com/flowella/apikeys/shared/stamp"
)

// A request's two lines merge into the same record in either order, and
// a line merged twice changes nothing.
func TestMergeIsOrderIndependentAndIdempotent(t *testing.T) {
	at := time.UnixMilli(1795600800000)
	lat := 9
	pairs := map[string][2]Observation{
		"401": {
			{Source: FromAccessLog, RequestID: testRID, At: at, Method: "GET", Route: "/v1/whoami", Path: "/v1/whoami",
				Status: 401, Outcome: Refused, SourceIP: "198.51.100.23", UserAgent: "curl/8", LatencyMS: &lat},
			{Source: FromAuthorizer, RequestID: testRID, At: at, OrgID: "org_a", KeyID: testKey, Method: "GET", Route: "/v1/whoami",
				Path: "/v1/whoami", Status: 401, Outcome: Refused, Reason: "revoked", SourceIP: "198.51.100.23"},
		},
		"403": {
			{Source: FromAccessLog, RequestID: testRID, At: at, OrgID: "org_a", KeyID: testKey, Method: "GET", Route: "/v1/contacts",
				Path: "/v1/contacts", Status: 403, Outcome: Refused, SourceIP: "203.0.113.7", LatencyMS: &lat},
			{Source: FromAuthorizer, RequestID: testRID, At: at.Add(time.Millisecond), OrgID: "org_a", KeyID: testKey, Method: "GET",
				Route: "/v1/contacts", Path: "/v1/contacts", Status: 403, Outcome: Refused, Reason: "scope_missing", SourceIP: "203.0.113.7"},
		},
	}
	for name, p := range pairs {
		t.Run(name, func(t *testing.T) {
			ab := Record{}.with(p[0]).with(p[1])
			ba := Record{OccurredAt: ab.OccurredAt}.with(p[1]).with(p[0])
			if !reflect.DeepEqual(ab, ba) {
				t.Fatalf("order matters:\n%+v\n%+v", ab, ba)
			}
			if again := ab.with(p[0]).with(p[1]); !again.equal(ab) {
				t.Fatalf("merging again changed %+v into %+v", ab, again)
			}
			if ab.Reason == "" || ab.LatencyMS == nil || ab.KeyID != testKey || ab.Outcome != Refused || len(ab.Sources) != 2 {
				t.Fatalf("merged %+v", ab)
			}
			// Counted once: the second line adds only what the first lacked.
			first := Record{}.with(p[0])
			total := addCounts(addCounts(map[counterKey]map[string]int{}, first.counts()), delta(first, ab))
			if !reflect.DeepEqual(total, ab.counts()) {
				t.Fatalf("counted %v, want %v", total, ab.counts())
			}
		})
	}
}

func TestCounts(t *testing.T) {
	r := Record{OrgID: "org_a", KeyID: testKey, RequestID: testRID, OccurredAt: mustStamp(t, "2026-11-25T10:59:59.999Z"), Method: "POST",
		Route: "/v1/messages", Status: 502, Outcome: Allowed, SourceIP: "203.0.113.7"}
	want := map[counterKey]map[string]int{
		{"use#org_a#" + testKey, "2026-11-25T10"}:                  {"requests": 1, "allowed": 1, "s_5xx": 1},
		{"ip#org_a#" + testKey, "2026-11-25T10#203.0.113.7"}:       {"requests": 1, "allowed": 1},
		{"wr#org_a#" + testKey, "2026-11-25T10#POST /v1/messages"}: {"requests": 1},
	}
	if got := r.counts(); !reflect.DeepEqual(got, want) {
		t.Fatalf("counts %v, want %v", got, want)
	}
	r.Outcome, r.Status, r.Reason = Refused, 403, "scope_missing"
	if got := r.counts()[counterKey{"use#org_a#" + testKey, "2026-11-25T10"}]; got["r_scope_missing"] != 1 || got["refused"] != 1 {
		t.Fatalf("refused counts %v", got)
	}
	if _, ok := r.counts()[counterKey{"wr#org_a#" + testKey, "2026-11-25T10#POST /v1/messages"}]; ok {
		t.Fatal("a refused change counted as a change")
	}
}

func mustStamp(t *testing.T, s string) stamp.Time {
	t.Helper()
	at, err := stamp.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return at
}
