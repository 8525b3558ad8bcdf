package adminapi_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/flowella/apikeys/shared/activity"
	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/stamp"
)

// GET /v1/api-keys/{id}/activity, /usage and /exposure: 200 for a key with
// no activity yet, 400 for each bad query, 404 for a key not found (below;
// another organisation's key in get_test.go); 401, 403, 503 in
// status_test.go. What they return for real traffic is tested through the
// pipeline that records it, in local/localstack.

// Query parameters are checked before anything is read.
func TestKeyActivityRefusesBadQueries(t *testing.T) {
	a := newAPI(t)
	admin := sessionOf("org_a", "u_admin", "admin")
	id, _ := a.createKey(admin, map[string]any{"label": "k"})
	for _, q := range []string{
		"activity?status=4x", "activity?status=600", "activity?outcome=maybe", "activity?limit=0", "activity?cursor=abc",
		"activity?since=yesterday", "activity?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", "activity?key_id=" + id,
		"usage?granularity=minute", "usage?since=2020-01-01T00:00:00Z&until=2026-01-01T00:00:00Z", "exposure?limit=5",
		// Valid RFC 3339, but in year 10000 or 0 once in UTC, or rounded
		// up into year 10000.
		"usage?since=9999-12-31T12:00:00Z&until=9999-12-31T23:00:00-02:00", "exposure?since=9999-12-31T12:00:00Z&until=9999-12-31T23:00:00-02:00",
		"usage?since=0000-01-01T00:30:00%2B01:00", "usage?granularity=hour&since=9999-12-31T20:00:00Z&until=9999-12-31T23:30:00Z",
		"activity?since=9999-12-31T12:00:00Z&until=9999-12-31T23:00:00-02:00",
	} {
		if r := a.do("GET", "/v1/api-keys/"+id+"/"+q, admin, nil); r.Status != http.StatusBadRequest || r.code() != "validation_failed" {
			t.Errorf("%s: %d %s", q, r.Status, r.Raw)
		}
	}
	// A new key has no activity yet: empty, not an error.
	if r := a.do("GET", "/v1/api-keys/"+id+"/activity", admin, nil); r.Status != 200 || fmt.Sprint(r.Body["items"]) != "[]" {
		t.Fatalf("empty activity: %d %s", r.Status, r.Raw)
	}
	if r := a.do("GET", "/v1/api-keys/"+id+"/usage?granularity=hour&since=2026-01-01T10:30:00Z&until=2026-01-01T11:10:00Z", admin, nil); r.Status != 200 ||
		r.Body["since"] != "2026-01-01T10:00:00.000Z" || r.Body["until"] != "2026-01-01T12:00:00.000Z" || r.Body["totals"].(map[string]any)["requests"] != 0.0 {
		t.Fatalf("usage window widened to whole hours: %d %s", r.Status, r.Raw)
	}
	if r := a.do("GET", "/v1/api-keys/"+id+"/exposure", admin, nil); r.Status != 200 {
		t.Fatalf("empty exposure: %d %s", r.Status, r.Raw)
	}
}

func TestKeyActivity404(t *testing.T) {
	a := newAPI(t)
	admin := sessionOf("org_a", "u_admin", "admin")
	for _, path := range []string{"activity", "usage", "exposure"} {
		for _, id := range []string{keystore.NewID(), "nope"} {
			if r := a.do("GET", "/v1/api-keys/"+id+"/"+path, admin, nil); r.Status != http.StatusNotFound || r.code() != "not_found" {
				t.Fatalf("%s of %s: %d %s", path, id, r.Status, r.Raw)
			}
		}
	}
}

// Hand-edited activity items still answer as the OpenAPI document says:
// a record whose occurred_at was broken lists with its sort key's time, a
// counter whose first and last seen were broken shows its hour's bounds.
func TestActivityWithHandEditedTimesKeepsItsShape(t *testing.T) {
	a := newAPI(t)
	admin := sessionOf("org_a", "u_admin", "admin")
	id, _ := a.createKey(admin, map[string]any{"label": "k"})
	ctx := context.Background()
	at := time.Now().UTC().Truncate(time.Second).Add(-time.Minute)
	rec := &activity.Recorder{DB: a.db, Table: a.tables["ActivityTable"], Retention: 24 * time.Hour}
	if _, err := rec.Apply(ctx, []activity.Observation{{Source: activity.FromAccessLog, RequestID: "he-1", At: at, OrgID: "org_a", KeyID: id,
		Method: "DELETE", Route: "/v1/contacts/{id}", Path: "/v1/contacts/c1", Status: 204, Outcome: activity.Allowed, SourceIP: "203.0.113.5"}}); err != nil {
		t.Fatal(err)
	}
	hour := at.Truncate(time.Hour)
	edit := func(pk, sk, update string) {
		t.Helper()
		_, err := a.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(a.tables["ActivityTable"]),
			Key:                       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk}},
			UpdateExpression:          aws.String(update),
			ConditionExpression:       aws.String("attribute_exists(pk)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":bad": &types.AttributeValueMemberS{Value: "last tuesday"}}})
		if err != nil {
			t.Fatalf("edit %s %s: %v", pk, sk, err)
		}
	}
	edit("act#org_a#"+id, at.Format(stamp.Layout)+"#he-1", "SET occurred_at = :bad")
	edit("ip#org_a#"+id, hour.Format(activity.HourLayout)+"#203.0.113.5", "SET first_seen = :bad, last_seen = :bad")
	edit("wr#org_a#"+id, hour.Format(activity.HourLayout)+"#DELETE /v1/contacts/{id}", "SET first_seen = :bad, last_seen = :bad")

	r := a.do("GET", "/v1/api-keys/"+id+"/activity", admin, nil)
	items, _ := r.Body["items"].([]any)
	if r.Status != http.StatusOK || len(items) != 1 || items[0].(map[string]any)["occurred_at"] != at.Format(stamp.Layout) {
		t.Fatalf("activity: %d %s", r.Status, r.Raw)
	}
	r = a.do("GET", "/v1/api-keys/"+id+"/exposure", admin, nil) // the harness checks it against the document
	first, last := hour.Format(stamp.Layout), hour.Add(time.Hour-time.Millisecond).Format(stamp.Layout)
	ips, _ := r.Body["source_ips"].([]any)
	changes, _ := r.Body["changes_by_route"].([]any)
	if r.Status != http.StatusOK || len(ips) != 1 || len(changes) != 1 {
		t.Fatalf("exposure: %d %s", r.Status, r.Raw)
	}
	for _, c := range []any{ips[0], changes[0]} {
		if m := c.(map[string]any); m["first_seen"] != first || m["last_seen"] != last || m["requests"] != 1.0 {
			t.Fatalf("exposure %v, want 1 request seen from %s to %s: %s", m, first, last, r.Raw)
		}
	}
}
