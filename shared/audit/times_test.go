package audit_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/flowella/apikeys/shared/audit"
)

func marker(at events.DynamoDBAttributeValue) events.DynamoDBAttributeValue {
	m := map[string]events.DynamoDBAttributeValue{
		"op":    s("update"),
		"actor": events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{"user_id": s("u_admin"), "ip": s("203.0.113.9"), "user_agent": s("curl")}),
		"trace": events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{"request_id": s("req-update")}),
	}
	if at.DataType() != events.DataTypeNull {
		m["at"] = at
	}
	return events.NewMapAttribute(m)
}

// A record's time is the change's, its sort key that time's stored text:
// the log's order is time order.
func TestRecordTimedByTheChange(t *testing.T) {
	old := keyImage(map[string]events.DynamoDBAttributeValue{"status": s("active")}, "revoked_at")
	next := keyImage(map[string]events.DynamoDBAttributeValue{"status": s("active"), "label": s("renamed"),
		"last_change": marker(s("2026-11-04T08:00:00Z"))}, "revoked_at") // whole seconds, as RFC3339 writes
	recs, err := audit.FromStream(streamRecord("MODIFY", old, next))
	if err != nil || len(recs) != 1 {
		t.Fatalf("records %v, %v", recs, err)
	}
	if r := recs[0]; r.Type != audit.TypeLabelChanged || r.OccurredAt.String() != "2026-11-04T08:00:00.000Z" ||
		!strings.HasPrefix(r.SK, "2026-11-04T08:00:00.000Z#aud_") {
		t.Fatalf("record %s at %s, sort key %s", r.Type, r.OccurredAt, r.SK)
	}
}

// A change the images cannot date, or that is not a key as the store writes
// it (a hand edit: a time in another format, a marker without a time), is
// recorded as an unattributed change timed by the stream record, with the
// images as they stand and without the key's hash, rather than retried until
// the shard's records expire and reach the dead-letter queue. Only a record
// that nothing dates is an error.
func TestUndecodableChangesAreRecordedUnattributed(t *testing.T) {
	old := keyImage(map[string]events.DynamoDBAttributeValue{"status": s("active")}, "revoked_at")
	for name, tt := range map[string]struct {
		rec   events.DynamoDBEventRecord
		after string // a field of the record's after that shows the change
	}{
		"marker without at": {streamRecord("MODIFY", old, keyImage(map[string]events.DynamoDBAttributeValue{"status": s("active"),
			"label": s("renamed"), "last_change": marker(events.NewNullAttribute())}, "revoked_at")), "label"},
		"marker at a malformed time": {streamRecord("MODIFY", old, keyImage(map[string]events.DynamoDBAttributeValue{"status": s("active"),
			"label": s("renamed"), "last_change": marker(s("04/11/2026 08:00"))}, "revoked_at")), "label"},
		"malformed expires_at": {streamRecord("MODIFY", old, keyImage(map[string]events.DynamoDBAttributeValue{"status": s("active"),
			"expires_at": s("tomorrow")}, "revoked_at")), "expires_at"},
		"a number for a time": {streamRecord("MODIFY", old, keyImage(map[string]events.DynamoDBAttributeValue{"status": s("active"),
			"expires_at": n("1798761600")}, "revoked_at")), "expires_at"},
		"repaired, the old image still malformed": {streamRecord("MODIFY",
			keyImage(map[string]events.DynamoDBAttributeValue{"status": s("active"), "expires_at": s("tomorrow")}, "revoked_at"),
			keyImage(map[string]events.DynamoDBAttributeValue{"status": s("active")}, "revoked_at")), "status"},
	} {
		t.Run(name, func(t *testing.T) {
			recs, err := audit.FromStream(tt.rec)
			if err != nil || len(recs) != 1 {
				t.Fatalf("records %+v, %v; want one", recs, err)
			}
			r := recs[0]
			if r.Type != audit.TypeUnattributed || r.Actor.UserID != audit.UnattributedActor || r.OrgID != "org_a" ||
				r.KeyID != "key_01J0000000000000000000000A" || r.OccurredAt.String() != "2026-11-03T09:00:00.000Z" {
				t.Fatalf("record %+v", r)
			}
			if _, ok := r.After[tt.after]; !ok {
				t.Fatalf("after %v does not show %s", r.After, tt.after)
			}
			if _, ok := r.After["key_hash"]; ok {
				t.Fatalf("after shows the key's hash: %v", r.After)
			}
			if _, ok := r.Before["key_hash"]; ok {
				t.Fatalf("before shows the key's hash: %v", r.Before)
			}
			again, _ := audit.FromStream(tt.rec)
			if len(again) != 1 || again[0].ID != r.ID {
				t.Fatalf("a redelivery made %+v, want the same record %s", again, r.ID)
			}
		})
	}
	t.Run("nothing dates it", func(t *testing.T) {
		r := streamRecord("MODIFY", old, keyImage(map[string]events.DynamoDBAttributeValue{"status": s("active"),
			"expires_at": s("tomorrow")}, "revoked_at"))
		r.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: time.Time{}}
		if recs, err := audit.FromStream(r); err == nil {
			t.Fatalf("records %+v without an error", recs)
		}
	})
	t.Run("unattributed, no stream time, no earlier marker", func(t *testing.T) {
		r := streamRecord("MODIFY", keyImage(nil, "last_change"), keyImage(map[string]events.DynamoDBAttributeValue{"status": s("active")}, "last_change"))
		r.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: time.Time{}}
		if recs, err := audit.FromStream(r); err == nil {
			t.Fatalf("records %+v without an error", recs)
		}
	})
}
