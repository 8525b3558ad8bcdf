package audit_test

import (
	"encoding/json"
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
			keyImage(map[string]events.DynamoDBAttributeValue{"status": s("active")}, "revoked_at")), "expires_at"},
		// attributevalue reads "Status" or "status" into the one field, in
		// no set order: "Status":"active" beside a revoked key's status
		// could otherwise revive it unseen.
		"a field name in another case": {streamRecord("MODIFY", keyImage(nil),
			keyImage(map[string]events.DynamoDBAttributeValue{"Status": s("active")})), "Status"},
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
			_, inBefore := r.Before[tt.after]
			_, inAfter := r.After[tt.after]
			if !inBefore && !inAfter {
				t.Fatalf("before %v, after %v: neither shows %s", r.Before, r.After, tt.after)
			}
			if _, ok := r.After["label"]; ok && tt.after != "label" {
				t.Fatalf("after %v shows an attribute that did not change", r.After)
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

// A hand edit that moves a key to another organisation is filed in both
// logs: the one that lost the key and the one that gained it.
func TestKeyMovedToAnotherOrganisationIsInBothLogs(t *testing.T) {
	for name, next := range map[string]map[string]events.DynamoDBAttributeValue{
		"decodable":   keyImage(map[string]events.DynamoDBAttributeValue{"org_id": s("org_b"), "scopes": l("*")}),
		"undecodable": keyImage(map[string]events.DynamoDBAttributeValue{"org_id": s("org_b"), "expires_at": s("never")}),
	} {
		t.Run(name, func(t *testing.T) {
			rec := streamRecord("MODIFY", keyImage(nil), next)
			recs, err := audit.FromStream(rec)
			if err != nil || len(recs) != 2 || recs[0].OrgID != "org_a" || recs[1].OrgID != "org_b" || recs[0].ID == recs[1].ID {
				t.Fatalf("records %+v, %v; want one in org_a and one in org_b", recs, err)
			}
			again, _ := audit.FromStream(rec)
			if len(again) != 2 || again[0].ID != recs[0].ID || again[1].ID != recs[1].ID {
				t.Fatalf("a redelivery made other records: %+v", again)
			}
		})
	}
}

// A padded hand edit makes a record of what changed, each value cut short:
// far below DynamoDB's item size, so it cannot hold up its stream shard.
func TestUndecodableRecordStaysSmall(t *testing.T) {
	pad := strings.Repeat("x", 300_000)
	rec := streamRecord("MODIFY", keyImage(map[string]events.DynamoDBAttributeValue{"pad": s(pad)}),
		keyImage(map[string]events.DynamoDBAttributeValue{"pad": s(pad + "y"), "expires_at": s("never")}))
	recs, err := audit.FromStream(rec)
	if err != nil || len(recs) != 1 {
		t.Fatalf("records %+v, %v", recs, err)
	}
	b, _ := json.Marshal(recs[0])
	if len(b) > 8<<10 {
		t.Fatalf("record of %d bytes", len(b))
	}
	if _, ok := recs[0].After["label"]; ok {
		t.Fatalf("after %v shows an attribute that did not change", recs[0].After)
	}
}
