package audit_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/flowella/apikeys/local/dynamotest"
	"github.com/flowella/apikeys/shared/audit"
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

// faultyDB fails every write of one audit type, alone or in a transaction,
// until healed: a throttled write, which DynamoDB Local cannot produce.
type faultyDB struct {
	*dynamodb.Client
	failType string
	healed   atomic.Bool
}

func (f *faultyDB) fails(item map[string]ddbtypes.AttributeValue) bool {
	typ := item["type"]
	return !f.healed.Load() && typ != nil && strings.Contains(toString(typ), f.failType)
}

func (f *faultyDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if f.fails(in.Item) {
		return nil, errors.New("ProvisionedThroughputExceededException")
	}
	return f.Client.PutItem(ctx, in, opts...)
}

func (f *faultyDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	for _, it := range in.TransactItems {
		if it.Put != nil && f.fails(it.Put.Item) {
			return nil, errors.New("ProvisionedThroughputExceededException")
		}
	}
	return f.Client.TransactWriteItems(ctx, in, opts...)
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
	faulty := &faultyDB{Client: db, failType: audit.TypeRevoked}
	h := &audit.Handler{DB: faulty, Table: tables["AuditTable"]}
	batch := sampleBatch(t)
	resp := invoke(t, h, batch)
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "100000000000000000004" {
		t.Fatalf("failures %v, want exactly the revoke record's sequence number", resp.BatchItemFailures)
	}
	if n := count(t, db, tables["AuditTable"]); n != 3 {
		t.Fatalf("%d records after the failed batch, want 3", n)
	}
	// Lambda retries from the failed record on, once the table recovers.
	faulty.healed.Store(true)
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

// creates is a batch of n create records, each of its own key.
func creates(t *testing.T, n int) events.DynamoDBEvent {
	t.Helper()
	var sample events.DynamoDBEvent
	if err := json.Unmarshal(sampleBatch(t), &sample); err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(sample.Records[0])
	var ev events.DynamoDBEvent
	for i := range n {
		var r events.DynamoDBEventRecord
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatal(err)
		}
		r.Change.SequenceNumber = fmt.Sprintf("2000000000000000%05d", i)
		r.Change.NewImage["key_id"] = events.NewStringAttribute(fmt.Sprintf("key_%d", i))
		ev.Records = append(ev.Records, r)
	}
	return ev
}

// gauge measures how many writes are under way at once, and fails the
// writes of chosen keys, alone or in a transaction (a throttled write, which
// DynamoDB Local cannot produce).
type gauge struct {
	*dynamodb.Client
	inFlight, peak atomic.Int64
	transactions   atomic.Int64
	fail           map[string]bool // key ids
}

func (g *gauge) enter() func() {
	n := g.inFlight.Add(1)
	for p := g.peak.Load(); n > p && !g.peak.CompareAndSwap(p, n); p = g.peak.Load() {
	}
	time.Sleep(2 * time.Millisecond) // a write's round trip, so that writes overlap
	return func() { g.inFlight.Add(-1) }
}

func (g *gauge) fails(item map[string]ddbtypes.AttributeValue) bool {
	id, ok := item["key_id"].(*ddbtypes.AttributeValueMemberS)
	return ok && g.fail[id.Value]
}

func (g *gauge) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	defer g.enter()()
	if g.fails(in.Item) {
		return nil, errors.New("ProvisionedThroughputExceededException")
	}
	return g.Client.PutItem(ctx, in, opts...)
}

func (g *gauge) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	defer g.enter()()
	g.transactions.Add(1)
	for _, it := range in.TransactItems {
		if g.fails(it.Put.Item) {
			return nil, errors.New("ProvisionedThroughputExceededException")
		}
	}
	return g.Client.TransactWriteItems(ctx, in, opts...)
}

func TestBatchIsWrittenConcurrentlyWithinTheBound(t *testing.T) {
	db, tables := dynamotest.Setup(t)
	g := &gauge{Client: db, fail: map[string]bool{"key_3": true, "key_17": true, "key_38": true}}
	h := &audit.Handler{DB: g, Table: tables["AuditTable"]}
	ev := creates(t, 40)
	resp, err := h.Handle(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	want := []string{ev.Records[3].Change.SequenceNumber, ev.Records[17].Change.SequenceNumber, ev.Records[38].Change.SequenceNumber}
	if !slices.Equal(failed, want) {
		t.Fatalf("failures %v, want every failed record, in order: %v", failed, want)
	}
	if n := count(t, db, tables["AuditTable"]); n != 37 {
		t.Fatalf("%d audit records, want 37", n)
	}
	if p := g.peak.Load(); p < 2 || p > audit.DefaultConcurrency {
		t.Fatalf("%d writes at once, want between 2 and %d", p, audit.DefaultConcurrency)
	}
	// Lambda retries from the first failure: the records written already
	// are dropped from the transactions, the rest written.
	g.fail = nil
	g.transactions.Store(0)
	retry := events.DynamoDBEvent{Records: ev.Records[3:]}
	if resp, err := h.Handle(context.Background(), retry); err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("retry: %v %v", resp.BatchItemFailures, err)
	}
	if n := count(t, db, tables["AuditTable"]); n != 40 {
		t.Fatalf("%d audit records after the retry, want 40", n)
	}
	// 37 records in two groups: each is cancelled once for the records it
	// holds already, then written without them.
	if n := g.transactions.Load(); n != 4 {
		t.Fatalf("%d transactions for the retry, want 4", n)
	}
}

// A healthy batch of 100 records takes 4 requests, not 100.
func TestBatchIsWrittenInGroups(t *testing.T) {
	db, tables := dynamotest.Setup(t)
	g := &gauge{Client: db}
	h := &audit.Handler{DB: g, Table: tables["AuditTable"]}
	if resp, err := h.Handle(context.Background(), creates(t, 100)); err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("%v %v", resp.BatchItemFailures, err)
	}
	if n := count(t, db, tables["AuditTable"]); n != 100 {
		t.Fatalf("%d audit records, want 100", n)
	}
	if n := g.transactions.Load(); n != 4 {
		t.Fatalf("%d transactions, want 4", n)
	}
}
