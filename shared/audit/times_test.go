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

// A change the images cannot date is an error for the batch to retry (and
// then dead-letter), never a record filed at no time.
func TestUndatedChangesAreErrors(t *testing.T) {
	old := keyImage(map[string]events.DynamoDBAttributeValue{"status": s("active")}, "revoked_at")
	for name, rec := range map[string]events.DynamoDBEventRecord{
		"marker without at": streamRecord("MODIFY", old, keyImage(map[string]events.DynamoDBAttributeValue{"status": s("active"),
			"label": s("renamed"), "last_change": marker(events.NewNullAttribute())}, "revoked_at")),
		"marker at a malformed time": streamRecord("MODIFY", old, keyImage(map[string]events.DynamoDBAttributeValue{"status": s("active"),
			"label": s("renamed"), "last_change": marker(s("04/11/2026 08:00"))}, "revoked_at")),
		"malformed expires_at": streamRecord("MODIFY", old, keyImage(map[string]events.DynamoDBAttributeValue{"status": s("active"),
			"expires_at": s("tomorrow")}, "revoked_at")),
		"unattributed, no stream time, no earlier marker": func() events.DynamoDBEventRecord {
			r := streamRecord("MODIFY", keyImage(nil, "last_change"), keyImage(map[string]events.DynamoDBAttributeValue{"status": s("active")}, "last_change"))
			r.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: time.Time{}}
			return r
		}(),
	} {
		t.Run(name, func(t *testing.T) {
			if recs, err := audit.FromStream(rec); err == nil {
				t.Fatalf("records %+v without an error", recs)
			} else {
				t.Log(err)
			}
		})
	}
}
