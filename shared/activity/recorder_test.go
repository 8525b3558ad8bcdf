package activity_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/flowella/apikeys/local/dynamotest"
	"github.com/flowella/apikeys/shared/activity"
	"github.com/flowella/apikeys/shared/stamp"
)

type fixture struct {
	db    *dynamodb.Client
	table string
	rec   *activity.Recorder
	log   activity.Log
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db, tables := dynamotest.Setup(t)
	table := tables["ActivityTable"]
	return &fixture{db: db, table: table,
		rec: &activity.Recorder{DB: db, Table: table, Retention: 90 * 24 * time.Hour},
		log: activity.Log{DB: db, Table: table}}
}

func (f *fixture) apply(t *testing.T, batch []activity.Observation) activity.Stats {
	t.Helper()
	st, err := f.rec.Apply(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// handEdit sets one attribute of an existing item to a string, as an edit
// in the console might.
func (f *fixture) handEdit(t *testing.T, pk, sk, attr, value string) {
	t.Helper()
	_, err := f.db.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{TableName: aws.String(f.table),
		Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: pk},
			"sk": &types.AttributeValueMemberS{Value: sk}},
		UpdateExpression:          aws.String("SET #a = :v"),
		ConditionExpression:       aws.String("attribute_exists(pk)"),
		ExpressionAttributeNames:  map[string]string{"#a": attr},
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: value}}})
	if err != nil {
		t.Fatalf("edit %s of %s %s: %v", attr, pk, sk, err)
	}
}

// snapshot is every item of the activity table, as sorted JSON lines.
func (f *fixture) snapshot(t *testing.T) []string {
	t.Helper()
	out, err := f.db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(f.table), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, it := range out.Items {
		var m map[string]any
		if err := attributevalue.UnmarshalMap(it, &m); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(m)
		lines = append(lines, string(b))
	}
	slices.Sort(lines)
	return lines
}

// scenario is one key's traffic as the two logs tell it: allowed requests
// (some changes), 403s for a missing scope, 401s after a revoke (their
// decision line only: their access-log line names no key, and is not
// delivered), and a refusal seen by the authorizer only (another API
// attached to it).
func scenario(org, key string, start time.Time) (access, decisions []activity.Observation) {
	lat := 7
	n := 0
	next := func() (string, time.Time) {
		n++
		return fmt.Sprintf("%s-%04d-4000-8000-000000000000", key[len(key)-8:], n), start.Add(time.Duration(n) * 10 * time.Millisecond)
	}
	for i := range 10 {
		id, at := next()
		method, route := "GET", "/v1/whoami"
		if i%2 == 0 {
			method, route = "POST", "/v1/messages"
		}
		access = append(access, activity.Observation{Source: activity.FromAccessLog, RequestID: id, At: at, OrgID: org, KeyID: key,
			Method: method, Route: route, Path: route, Status: 200, Outcome: activity.Allowed, SourceIP: "203.0.113.7", LatencyMS: &lat})
	}
	for range 3 {
		id, at := next()
		access = append(access, activity.Observation{Source: activity.FromAccessLog, RequestID: id, At: at, OrgID: org, KeyID: key,
			Method: "GET", Route: "/v1/contacts", Path: "/v1/contacts", Status: 403, Outcome: activity.Refused, SourceIP: "203.0.113.7", LatencyMS: &lat})
		decisions = append(decisions, activity.Observation{Source: activity.FromAuthorizer, RequestID: id, At: at.Add(time.Millisecond),
			OrgID: org, KeyID: key, Method: "GET", Route: "/v1/contacts", Path: "/v1/contacts", Status: 403, Outcome: activity.Refused,
			Reason: "scope_missing", SourceIP: "203.0.113.7"})
	}
	for range 2 {
		id, at := next()
		decisions = append(decisions, activity.Observation{Source: activity.FromAuthorizer, RequestID: id, At: at.Add(time.Millisecond),
			OrgID: org, KeyID: key, Method: "POST", Route: "/v1/messages", Path: "/v1/messages", Status: 401, Outcome: activity.Refused,
			Reason: "revoked", SourceIP: "198.51.100.23", UserAgent: "python-requests/2.32.3"})
	}
	id, at := next()
	decisions = append(decisions, activity.Observation{Source: activity.FromAuthorizer, RequestID: id, At: at, OrgID: org, KeyID: key,
		Method: "GET", Route: "/v1/templates", Path: "/v1/templates", Status: 403, Outcome: activity.Refused, Reason: "ip_not_allowed",
		SourceIP: "192.0.2.1"})
	return access, decisions
}

func (f *fixture) checkScenario(t *testing.T, org, key string, since time.Time) {
	t.Helper()
	ctx := context.Background()
	recs, next, err := f.log.List(ctx, org, key, activity.Query{Limit: 100})
	if err != nil || next != "" {
		t.Fatal(err, next)
	}
	byStatus := map[int]int{}
	for _, r := range recs {
		byStatus[r.Status]++
		// A 401 is its decision line alone: no latency, which only the
		// access log has.
		if r.Status == 401 && (r.Reason != "revoked" || r.UserAgent != "python-requests/2.32.3" || r.LatencyMS != nil ||
			!slices.Equal(r.Sources, []string{string(activity.FromAuthorizer)})) {
			t.Errorf("401 not recorded from its decision line alone: %+v", r)
		}
		if r.Status == 403 && r.Route == "/v1/contacts" && (r.Reason != "scope_missing" || r.LatencyMS == nil) {
			t.Errorf("403 not merged from both logs: %+v", r)
		}
	}
	if len(recs) != 16 || byStatus[200] != 10 || byStatus[403] != 4 || byStatus[401] != 2 {
		t.Fatalf("%d records by status %v, want 16: 10×200, 4×403, 2×401", len(recs), byStatus)
	}
	for i := 1; i < len(recs); i++ {
		if recs[i-1].OccurredAt < recs[i].OccurredAt {
			t.Fatalf("not newest first at %d", i)
		}
	}
	hour := since.UTC().Truncate(time.Hour)
	u, err := f.log.Usage(ctx, org, key, hour, hour.Add(2*time.Hour), false)
	if err != nil {
		t.Fatal(err)
	}
	want := activity.Counts{Requests: 16, Allowed: 10, Refused: 6, ByStatusClass: map[string]int{"2xx": 10, "4xx": 6},
		RefusedByReason: map[string]int{"scope_missing": 3, "revoked": 2, "ip_not_allowed": 1}}
	if !reflect.DeepEqual(u.Totals, want) {
		t.Fatalf("usage %+v, want %+v", u.Totals, want)
	}
	e, err := f.log.Exposure(ctx, org, key, hour, hour.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ips := map[string]int{}
	for _, s := range e.SourceIPs {
		ips[s.IP] = s.Requests
		if s.FirstSeen.IsZero() || s.LastSeen < s.FirstSeen {
			t.Errorf("source %+v", s)
		}
	}
	if !reflect.DeepEqual(ips, map[string]int{"203.0.113.7": 13, "198.51.100.23": 2, "192.0.2.1": 1}) {
		t.Fatalf("source addresses %v", ips)
	}
	if len(e.Writes) != 1 || e.Writes[0].Method != "POST" || e.Writes[0].Route != "/v1/messages" || e.Writes[0].Requests != 5 {
		t.Fatalf("changes %+v, want 5 allowed POST /v1/messages (the 401s are not changes)", e.Writes)
	}
}

// Each key's traffic is recorded exactly, whichever log arrives first;
// delivering every batch again changes nothing.
func TestRecordingIsExactInAnyOrderAndUnderRedelivery(t *testing.T) {
	f := newFixture(t)
	start := time.Now().Add(-time.Minute)
	accessFirst := [2]string{"org_a", "key_01KMZ0000000000000000000AB"}
	decisionsFirst := [2]string{"org_a", "key_01KMZ0000000000000000000CD"}
	a1, d1 := scenario(accessFirst[0], accessFirst[1], start)
	a2, d2 := scenario(decisionsFirst[0], decisionsFirst[1], start)
	batches := [][]activity.Observation{a1, d1, d2, a2}
	for _, b := range batches {
		f.apply(t, b)
	}
	f.checkScenario(t, accessFirst[0], accessFirst[1], start)
	f.checkScenario(t, decisionsFirst[0], decisionsFirst[1], start)
	before := f.snapshot(t)
	for _, b := range batches {
		st := f.apply(t, b)
		if st.Created+st.Merged != 0 || st.Unchanged != len(b) {
			t.Fatalf("redelivery did something: %+v", st)
		}
	}
	if after := f.snapshot(t); !slices.Equal(before, after) {
		t.Fatalf("redelivery changed the table:\nbefore %v\nafter  %v", before, after)
	}
	// Another organisation reads nothing of these keys.
	if recs, _, err := f.log.List(context.Background(), "org_b", accessFirst[1], activity.Query{Limit: 100}); err != nil || len(recs) != 0 {
		t.Fatalf("org_b sees %d records (%v)", len(recs), err)
	}
}

// The two logs' batches arriving at the same time, and again, in several
// concurrent invocations, still count every request once.
func TestConcurrentDeliveriesCountOnce(t *testing.T) {
	f := newFixture(t)
	start := time.Now().Add(-time.Minute)
	org, key := "org_a", "key_01KMZ0000000000000000000EF"
	access, decisions := scenario(org, key, start)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		batch := access
		if i%2 == 1 {
			batch = decisions
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := f.rec.Apply(context.Background(), batch); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	f.checkScenario(t, org, key, start)
}

// First and last seen times stay exact when an older batch arrives after a
// newer one.
func TestFirstAndLastSeenUnderLateDelivery(t *testing.T) {
	f := newFixture(t)
	org, key := "org_a", "key_01KMZ0000000000000000000GH"
	hour := time.Now().UTC().Truncate(time.Hour)
	obs := func(n int, at time.Time) activity.Observation {
		return activity.Observation{Source: activity.FromAccessLog, RequestID: fmt.Sprintf("late-%d", n), At: at, OrgID: org, KeyID: key,
			Method: "DELETE", Route: "/v1/contacts/{id}", Path: "/v1/contacts/c1", Status: 204, Outcome: activity.Allowed, SourceIP: "203.0.113.9"}
	}
	middle := []activity.Observation{obs(3, hour.Add(30*time.Minute)), obs(4, hour.Add(31*time.Minute))}
	wide := []activity.Observation{obs(1, hour.Add(time.Minute)), obs(2, hour.Add(50*time.Minute))}
	f.apply(t, middle)
	f.apply(t, wide) // older first request and newer last: both must move
	f.apply(t, middle)
	e, err := f.log.Exposure(context.Background(), org, key, hour, hour.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	first, last := stamp.Of(hour.Add(time.Minute)), stamp.Of(hour.Add(50*time.Minute))
	if len(e.SourceIPs) != 1 || e.SourceIPs[0].Requests != 4 || e.SourceIPs[0].FirstSeen != first || e.SourceIPs[0].LastSeen != last {
		t.Fatalf("source addresses %+v, want 4 requests from %s to %s", e.SourceIPs, first, last)
	}
	if len(e.Writes) != 1 || e.Writes[0].Requests != 4 || e.Writes[0].FirstSeen != first || e.Writes[0].LastSeen != last {
		t.Fatalf("changes %+v", e.Writes)
	}
}

// The write cost of recording, per request, for batches as the access log
// delivers them: allowed requests of one key from one address.
func TestWritesPerRequest(t *testing.T) {
	f := newFixture(t)
	org, key := "org_a", "key_01KMZ0000000000000000000JK"
	start := time.Now().Add(-time.Minute)
	for _, size := range []int{1, 10, 50, 200} {
		var batch []activity.Observation
		for i := range size {
			batch = append(batch, activity.Observation{Source: activity.FromAccessLog, RequestID: fmt.Sprintf("w%d-%d", size, i),
				At: start.Add(time.Duration(i) * time.Millisecond), OrgID: org, KeyID: key, Method: "GET", Route: "/v1/whoami",
				Path: "/v1/whoami", Status: 200, Outcome: activity.Allowed, SourceIP: "203.0.113.7"})
		}
		st := f.apply(t, batch)
		if st.Created != size {
			t.Fatalf("%+v", st)
		}
		t.Logf("batch of %3d allowed requests: %3d items written, %.2f per request, %d reads", size, st.WriteItems,
			float64(st.WriteItems)/float64(size), st.Reads)
	}
	// Refused requests: a 403 has two lines, one batch from each log; a 401
	// its decision line alone.
	for _, status := range []int{403, 401} {
		var access, decisions []activity.Observation
		for i := range 50 {
			id, at := fmt.Sprintf("r%d-%d", status, i), start.Add(time.Duration(i)*time.Millisecond)
			if status == 403 {
				access = append(access, activity.Observation{Source: activity.FromAccessLog, RequestID: id, At: at, OrgID: org, KeyID: key,
					Method: "GET", Route: "/v1/contacts", Path: "/v1/contacts", Status: status, Outcome: activity.Refused, SourceIP: "203.0.113.7"})
			}
			decisions = append(decisions, activity.Observation{Source: activity.FromAuthorizer, RequestID: id, At: at, OrgID: org, KeyID: key,
				Method: "GET", Route: "/v1/contacts", Path: "/v1/contacts", Status: status, Outcome: activity.Refused, Reason: "revoked",
				SourceIP: "203.0.113.7"})
		}
		a, d := f.apply(t, access), f.apply(t, decisions)
		if a.Created+d.Created != len(decisions) {
			t.Fatalf("%d: %+v %+v", status, a, d)
		}
		t.Logf("%d requests refused with %d: %d items written, %.2f per request, %d reads", len(decisions),
			status, a.WriteItems+d.WriteItems, float64(a.WriteItems+d.WriteItems)/float64(len(decisions)), a.Reads+d.Reads)
	}
}

// A line that names no key — an unknown or malformed token's 401 — has
// nothing to be recorded under: however many come, the table stays empty.
func TestLinesThatNameNoKeyWriteNothing(t *testing.T) {
	f := newFixture(t)
	var batch []activity.Observation
	for i := range 20 {
		batch = append(batch, activity.Observation{Source: activity.FromAccessLog, RequestID: fmt.Sprintf("junk-%d", i),
			At: time.Now(), Method: "GET", Route: "/v1/whoami", Path: "/v1/whoami", Status: 401, Outcome: activity.Refused,
			SourceIP: "198.51.100.23"})
	}
	if st := f.apply(t, batch); st.WriteItems != 0 || st.Reads != 0 {
		t.Fatalf("%+v", st)
	}
	if items := f.snapshot(t); len(items) != 0 {
		t.Fatalf("%d items written for lines that name no key: %v", len(items), items)
	}
}

// Stored times are written in stamp's layout, and a counter whose time a
// hand edit broke still counts its requests in the exposure report, that
// time read as its hour's bound.
func TestStoredTimesAndABrokenCounterTime(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	org, key := "org_a", "key_01KMZ0000000000000000000TM"
	at := time.Now().UTC().Truncate(time.Hour).Add(7*time.Minute + 8*time.Second + 9*time.Millisecond)
	f.apply(t, []activity.Observation{{Source: activity.FromAccessLog, RequestID: "tm-1", At: at, OrgID: org, KeyID: key,
		Method: "GET", Route: "/v1/contacts", Path: "/v1/contacts", Status: 200, Outcome: activity.Allowed, SourceIP: "203.0.113.5"}})
	recs, _, err := f.log.List(ctx, org, key, activity.Query{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].OccurredAt != stamp.Of(at) {
		t.Fatalf("records %+v, want one at %s", recs, stamp.Of(at))
	}
	text := at.Format(stamp.Layout)
	for _, attr := range []string{"occurred_at", "first_seen", "last_seen"} {
		found := false
		for _, line := range f.snapshot(t) {
			found = found || strings.Contains(line, `"`+attr+`":"`+text+`"`)
		}
		if !found {
			t.Fatalf("no item stores %s %q: %v", attr, text, f.snapshot(t))
		}
	}
	hour := at.Truncate(time.Hour)
	f.handEdit(t, "ip#"+org+"#"+key, hour.Format(activity.HourLayout)+"#203.0.113.5", "first_seen", "last tuesday")
	e, err := f.log.Exposure(ctx, org, key, hour, hour.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(e.SourceIPs) != 1 || e.SourceIPs[0].Requests != 1 || e.SourceIPs[0].FirstSeen != stamp.Of(hour) || e.SourceIPs[0].LastSeen != stamp.Of(at) {
		t.Fatalf("source addresses %+v, want 1 request, first seen %s (the hour), last seen %s", e.SourceIPs, stamp.Of(hour), stamp.Of(at))
	}
}

// A record whose occurred_at a hand edit broke is read with the time of its
// sort key: the key's activity still lists, and the other line of its
// request is still merged into it.
func TestABrokenRecordTimeIsReadFromItsSortKey(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	org, key := "org_a", "key_01KMZ0000000000000000000BR"
	at := time.Now().UTC().Truncate(time.Second).Add(-time.Minute)
	decision := activity.Observation{Source: activity.FromAuthorizer, RequestID: "br-403", At: at, OrgID: org, KeyID: key,
		Method: "POST", Route: "/v1/messages", Path: "/v1/messages", Status: 403, Outcome: activity.Refused, Reason: "scope_missing"}
	f.apply(t, []activity.Observation{decision})
	f.handEdit(t, "act#"+org+"#"+key, at.Format(stamp.Layout)+"#br-403", "occurred_at", "30/11/2026 10:00")
	latency := 12
	access := activity.Observation{Source: activity.FromAccessLog, RequestID: "br-403", At: at, OrgID: org, KeyID: key,
		Method: "POST", Route: "/v1/messages", Path: "/v1/messages", Status: 403, Outcome: activity.Refused, LatencyMS: &latency}
	if st := f.apply(t, []activity.Observation{access}); st.Merged != 1 {
		t.Fatalf("the access-log line was not merged: %+v", st)
	}
	recs, _, err := f.log.List(ctx, org, key, activity.Query{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].OccurredAt != stamp.Of(at) || recs[0].LatencyMS == nil || *recs[0].LatencyMS != 12 || recs[0].Reason != "scope_missing" {
		t.Fatalf("records %+v, want the 403 at %s, merged from both lines", recs, stamp.Of(at))
	}
}

// Two keys' 403s under one request id (a client may choose
// $context.requestId, the fallback when a line has no extended id) stay
// two requests: each key's two lines meet each other, never the other
// key's, in any order and delivered twice.
func TestARequestIDOfAnotherKeyIsNeverMergedAcrossKeys(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	keyA, keyB := "key_01KMZ0000000000000000000AA", "key_01KMZ0000000000000000000BB"
	at := time.Now().UTC().Truncate(time.Second).Add(-time.Minute)
	latency := 9
	lines := func(org, key, reason string, at time.Time) (decision, access activity.Observation) {
		decision = activity.Observation{Source: activity.FromAuthorizer, RequestID: "same-id", At: at.Add(7 * time.Millisecond), OrgID: org, KeyID: key,
			Method: "POST", Route: "/v1/messages", Path: "/v1/messages", Status: 403, Outcome: activity.Refused, Reason: reason}
		access = activity.Observation{Source: activity.FromAccessLog, RequestID: "same-id", At: at, OrgID: org, KeyID: key,
			Method: "POST", Route: "/v1/messages", Path: "/v1/messages", Status: 403, Outcome: activity.Refused, LatencyMS: &latency}
		return decision, access
	}
	decisionA, accessA := lines("org_a", keyA, "scope_missing", at)
	decisionB, accessB := lines("org_b", keyB, "ip_not_allowed", at.Add(time.Second))
	f.apply(t, []activity.Observation{decisionA})
	f.apply(t, []activity.Observation{accessB, decisionA})
	f.apply(t, []activity.Observation{accessA, decisionB})
	f.apply(t, []activity.Observation{decisionB, accessA, accessB})
	for _, c := range []struct{ org, key, reason string }{{"org_a", keyA, "scope_missing"}, {"org_b", keyB, "ip_not_allowed"}} {
		recs, _, err := f.log.List(ctx, c.org, c.key, activity.Query{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 1 || recs[0].OrgID != c.org || recs[0].Reason != c.reason || recs[0].LatencyMS == nil || len(recs[0].Sources) != 2 {
			t.Fatalf("%s's records %+v, want one of its own, merged from both lines, refused for %s", c.key, recs, c.reason)
		}
		u, err := f.log.Usage(ctx, c.org, c.key, at.Truncate(time.Hour), at.Truncate(time.Hour).Add(2*time.Hour), false)
		if err != nil {
			t.Fatal(err)
		}
		if u.Totals.Requests != 1 || u.Totals.RefusedByReason[c.reason] != 1 {
			t.Fatalf("%s's usage %+v, want one request refused for %s", c.key, u.Totals, c.reason)
		}
	}
}
