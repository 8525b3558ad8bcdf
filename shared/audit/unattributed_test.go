package audit_test

import (
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/flowella/apikeys/shared/audit"
)

func s(v string) events.DynamoDBAttributeValue { return events.NewStringAttribute(v) }
func n(v string) events.DynamoDBAttributeValue { return events.NewNumberAttribute(v) }
func l(vs ...string) events.DynamoDBAttributeValue {
	var out []events.DynamoDBAttributeValue
	for _, v := range vs {
		out = append(out, s(v))
	}
	return events.NewListAttribute(out)
}

// keyImage is a key item as an admin create leaves it.
func keyImage(mods map[string]events.DynamoDBAttributeValue, drop ...string) map[string]events.DynamoDBAttributeValue {
	img := map[string]events.DynamoDBAttributeValue{
		"key_hash": s("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
		"key_id":   s("key_01J0000000000000000000000A"), "org_id": s("org_a"), "prefix": s("flwl_live_AbCdEf"),
		"label": s("n8n"), "scopes": l("messages:read"), "status": s("revoked"), "version": n("2"),
		"created_at": s("2026-11-01T10:00:00.000Z"), "created_by": s("u_1"),
		"revoked_at": s("2026-11-02T10:00:00.000Z"),
		"last_change": events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{
			"op": s("revoke"), "at": s("2026-11-02T10:00:00.000Z"),
			"actor": events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{"user_id": s("u_admin"), "ip": s("203.0.113.9"), "user_agent": s("curl")}),
			"trace": events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{"request_id": s("req-revoke")}),
		}),
	}
	for k, v := range mods {
		img[k] = v
	}
	for _, k := range drop {
		delete(img, k)
	}
	return img
}

func streamRecord(name string, oldImg, newImg map[string]events.DynamoDBAttributeValue) events.DynamoDBEventRecord {
	return events.DynamoDBEventRecord{EventName: name, EventSourceArn: "arn:aws:dynamodb:eu-west-1:123456789012:table/Keys/stream/x",
		Change: events.DynamoDBStreamRecord{SequenceNumber: "100", OldImage: oldImg, NewImage: newImg,
			ApproximateCreationDateTime: events.SecondsEpochTime{Time: time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)}}}
}

// Issue 8, finding 3: a write that leaves last_change alone, or removes it,
// used to leave no record at all. What changed is now read from the images.
func TestChangesWithoutANewMarkerAreUnattributed(t *testing.T) {
	revoked := keyImage(nil)
	tests := []struct {
		name    string
		rec     events.DynamoDBEventRecord
		changed []string // fields in before/after; nil: no record
	}{
		{"reactivated, marker left alone", streamRecord("MODIFY", revoked, keyImage(map[string]events.DynamoDBAttributeValue{"status": s("active")}, "revoked_at")),
			[]string{"status", "revoked_at"}},
		{"scopes widened, marker removed", streamRecord("MODIFY", revoked, keyImage(map[string]events.DynamoDBAttributeValue{"scopes": l("*")}, "last_change")),
			[]string{"scopes"}},
		{"moved to another organisation", streamRecord("MODIFY", revoked, keyImage(map[string]events.DynamoDBAttributeValue{"org_id": s("org_evil")})),
			[]string{"org_id"}},
		{"expiry lifted", streamRecord("MODIFY", keyImage(map[string]events.DynamoDBAttributeValue{"expires_at": s("2026-12-01T00:00:00.000Z")}), revoked),
			[]string{"expires_at"}},
		{"created without a marker", streamRecord("INSERT", nil, keyImage(nil, "last_change")), []string{"status"}},
		{"deleted", streamRecord("REMOVE", revoked, nil), []string{"status"}},
		{"last_used_at alone", streamRecord("MODIFY", revoked, keyImage(map[string]events.DynamoDBAttributeValue{"last_used_at": s("2026-11-03T09:00:00.000Z")})), nil},
		{"an old-style last-used write that removed the marker", streamRecord("MODIFY", revoked, keyImage(map[string]events.DynamoDBAttributeValue{"last_used_at": s("2026-11-03T09:00:00.000Z")}, "last_change")), nil},
		{"an id pointer", streamRecord("INSERT", nil, map[string]events.DynamoDBAttributeValue{"key_hash": s("id#key_01J0000000000000000000000A"), "ptr_key_hash": s("9f86")}), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := audit.FromStream(tt.rec)
			if err != nil {
				t.Fatal(err)
			}
			if tt.changed == nil {
				if len(recs) != 0 {
					t.Fatalf("%d records, want none: %+v", len(recs), recs)
				}
				return
			}
			// A key moved to another organisation is in both logs
			// (TestKeyMovedToAnotherOrganisationIsInBothLogs); the first is
			// the organisation that had it.
			if len(recs) != 1 && !(len(recs) == 2 && recs[0].OrgID == "org_a" && recs[1].OrgID != "org_a") {
				t.Fatalf("%d records, want 1: %+v", len(recs), recs)
			}
			r := recs[0]
			if r.Type != audit.TypeUnattributed || r.Actor.UserID != audit.UnattributedActor || r.Actor.IP != "" ||
				r.Trace.RequestID != "" || r.KeyID != "key_01J0000000000000000000000A" || r.OccurredAt.String() != "2026-11-03T09:00:00.000Z" {
				t.Fatalf("record %+v: the stale marker's admin must not be named", r)
			}
			for _, f := range tt.changed {
				_, inBefore := r.Before[f]
				_, inAfter := r.After[f]
				if (r.Before != nil && !inBefore) || (r.After != nil && !inAfter) {
					t.Errorf("field %s missing from before %v / after %v", f, r.Before, r.After)
				}
			}
			again, _ := audit.FromStream(tt.rec)
			if again[0].ID != r.ID {
				t.Fatal("a redelivered record has another id")
			}
		})
	}
}
