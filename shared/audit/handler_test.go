package audit_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/flowella/apikeys/shared/audit"
	"github.com/flowella/apikeys/shared/dynamotest"
)

func sampleBatch(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(filepath.Dir(dynamotest.TemplatePath(t)), "events", "audit-stream.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFromStream(t *testing.T) {
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(sampleBatch(t), &ev); err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{audit.TypeCreated},
		nil, // last-used write only
		{audit.TypeScopesChanged, audit.TypeLabelChanged},
		{audit.TypeRevoked},
	}
	for i, r := range ev.Records {
		recs, err := audit.FromStream(r)
		if err != nil {
			t.Fatal(err)
		}
		var types []string
		for _, rec := range recs {
			types = append(types, rec.Type)
			if rec.Actor.UserID != "u_demo_admin" || rec.Actor.IP != "203.0.113.7" || !strings.HasPrefix(rec.Trace.RequestID, "req-") ||
				rec.OrgID != "org_demo" || rec.KeyPrefix != "flwl_live_a1b2c3" || !strings.HasPrefix(rec.ID, "aud_") {
				t.Fatalf("record %d: %+v", i, rec)
			}
		}
		if strings.Join(types, ",") != strings.Join(want[i], ",") {
			t.Fatalf("record %d: types %v, want %v", i, types, want[i])
		}
		again, _ := audit.FromStream(r)
		for j := range again {
			if again[j].ID != recs[j].ID {
				t.Fatal("ids differ for the same stream record")
			}
		}
	}
}

// faultyDB fails the PutItem of one audit type a given number of times: a
// throttled write, which DynamoDB Local cannot produce.
type faultyDB struct {
	*dynamodb.Client
	mu       sync.Mutex
	failType string
	failures int
}

func (f *faultyDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	f.mu.Lock()
	typ := in.Item["type"]
	fail := f.failures > 0 && typ != nil && strings.Contains(toString(typ), f.failType)
	if fail {
		f.failures--
	}
	f.mu.Unlock()
	if fail {
		return nil, errors.New("ProvisionedThroughputExceededException")
	}
	return f.Client.PutItem(ctx, in, opts...)
}

func toString(v any) string { b, _ := json.Marshal(v); return string(b) }

func count(t *testing.T, db *dynamodb.Client, table string) int32 {
	t.Helper()
	out, err := db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(table), Select: "COUNT", ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	return out.Count
}

func invoke(t *testing.T, h *audit.Handler, payload []byte) events.DynamoDBEventResponse {
	t.Helper()
	out, err := lambda.NewHandler(h.Handle).Invoke(context.Background(), payload)
	if err != nil {
		t.Fatal(err)
	}
	var resp events.DynamoDBEventResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestRedeliveredBatchWritesNothingNew(t *testing.T) {
	db, tables := dynamotest.Setup(t)
	h := &audit.Handler{DB: db, Table: tables["AuditTable"]}
	batch := sampleBatch(t)
	for i := 0; i < 3; i++ {
		if resp := invoke(t, h, batch); len(resp.BatchItemFailures) != 0 {
			t.Fatalf("delivery %d: failures %v", i, resp.BatchItemFailures)
		}
		if n := count(t, db, tables["AuditTable"]); n != 4 {
			t.Fatalf("after delivery %d: %d audit records, want 4", i, n)
		}
	}
}

func TestPartialBatchFailureReportsThatRecordAndRetryCompletes(t *testing.T) {
	db, tables := dynamotest.Setup(t)
	faulty := &faultyDB{Client: db, failType: audit.TypeRevoked, failures: 1}
	h := &audit.Handler{DB: faulty, Table: tables["AuditTable"]}
	batch := sampleBatch(t)
	resp := invoke(t, h, batch)
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "100000000000000000004" {
		t.Fatalf("failures %v, want exactly the revoke record's sequence number", resp.BatchItemFailures)
	}
	if n := count(t, db, tables["AuditTable"]); n != 3 {
		t.Fatalf("%d records after the failed batch, want 3", n)
	}
	// Lambda retries from the failed record on.
	var ev events.DynamoDBEvent
	_ = json.Unmarshal(batch, &ev)
	retry, _ := json.Marshal(events.DynamoDBEvent{Records: ev.Records[3:]})
	if resp := invoke(t, h, retry); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("retry failures %v", resp.BatchItemFailures)
	}
	if n := count(t, db, tables["AuditTable"]); n != 4 {
		t.Fatalf("%d records after the retry, want 4", n)
	}
}
