package localstream_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/flowella/apikeys/local/dynamotest"
	"github.com/flowella/apikeys/local/localstream"
	"github.com/flowella/apikeys/shared/samtemplate"
	"github.com/flowella/apikeys/shared/streamevents"
	"github.com/flowella/apikeys/shared/streamsclient"
)

// recorder is a stream function that fails chosen records a number of times.
type recorder struct {
	mu        sync.Mutex
	delivered []string       // key_hash of every record seen, in order
	failLeft  map[string]int // key_hash -> failures still to report
}

func (r *recorder) handle(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	resp := events.DynamoDBEventResponse{}
	for _, rec := range ev.Records {
		h := rec.Change.Keys["key_hash"].String()
		r.delivered = append(r.delivered, h)
		if r.failLeft[h] > 0 {
			r.failLeft[h]--
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: rec.Change.SequenceNumber})
		}
	}
	return resp, nil
}

func (r *recorder) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.delivered...)
}

func run(t *testing.T, rec *recorder, retries int, checkpoint string, dlq *bytes.Buffer, writes func(db *dynamodb.Client, table string)) (*dynamodb.Client, string) {
	t.Helper()
	db, tables := dynamotest.Setup(t)
	streams, err := streamsclient.New(context.Background(), os.Getenv("DYNAMODB_ENDPOINT"))
	if err != nil {
		t.Fatal(err)
	}
	writes(db, tables["KeysTable"])
	p := &localstream.Poller{
		Streams: streams, Tables: db, TableName: tables["KeysTable"], Handler: lambda.NewHandler(rec.handle),
		Mapping:    samtemplate.StreamMapping{Function: "F", Table: "KeysTable", BatchSize: 10, MaximumRetryAttempts: retries, ReportBatchFailures: true},
		Checkpoint: checkpoint, DeadLetter: dlq, Interval: 10 * time.Millisecond, Backoff: time.Millisecond,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()
	time.Sleep(1500 * time.Millisecond)
	cancel()
	<-done
	return db, tables["KeysTable"]
}

func put(db *dynamodb.Client, table string, n int) { putRange(db, table, 0, n) }

// putRange writes items h<from> … h<to-1>.
func putRange(db *dynamodb.Client, table string, from, to int) {
	for i := from; i < to; i++ {
		_, _ = db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]types.AttributeValue{
			"key_hash": &types.AttributeValueMemberS{Value: fmt.Sprintf("h%d", i)},
			"org_id":   &types.AttributeValueMemberS{Value: "o"},
			"key_id":   &types.AttributeValueMemberS{Value: fmt.Sprintf("k%d", i)},
		}})
	}
}

func TestPartialFailureRetriesFromTheFailedRecord(t *testing.T) {
	rec := &recorder{failLeft: map[string]int{"h2": 1}}
	run(t, rec, 3, "", nil, func(db *dynamodb.Client, table string) { put(db, table, 5) })
	got := strings.Join(rec.seen(), ",")
	// First delivery h0..h4, h2 fails; the retry starts at h2.
	if got != "h0,h1,h2,h3,h4,h2,h3,h4" {
		t.Fatalf("deliveries %s", got)
	}
}

func TestExhaustedRetriesGoToTheDeadLetterFile(t *testing.T) {
	rec := &recorder{failLeft: map[string]int{"h1": 100}}
	var dlq bytes.Buffer
	run(t, rec, 2, "", &dlq, func(db *dynamodb.Client, table string) { put(db, table, 3) })
	got := strings.Join(rec.seen(), ",")
	if got != "h0,h1,h2,h1,h2,h1,h2" { // first try and two retries
		t.Fatalf("deliveries %s", got)
	}
	// Lambda's on-failure document: where the two failing records are.
	var d streamevents.DeadLetter
	if err := json.Unmarshal(dlq.Bytes(), &d); err != nil {
		t.Fatalf("dead letter %q: %v", dlq.String(), err)
	}
	b := d.Batch
	if d.RequestContext.Condition != streamevents.ConditionRetriesExhausted || d.RequestContext.ApproximateInvokeCount != 3 ||
		!strings.HasSuffix(d.RequestContext.FunctionArn, ":function:F") || d.ResponseContext.FunctionError != "" ||
		b.BatchSize != 2 || b.ShardID == "" || !strings.Contains(b.StreamArn, "/stream/") ||
		b.StartSequenceNumber == "" || b.StartSequenceNumber >= b.EndSequenceNumber || b.ApproximateArrivalOfFirstRecord == "" {
		t.Fatalf("dead letter %s", dlq.String())
	}
}

func TestCheckpointResumesAfterRestart(t *testing.T) {
	rec := &recorder{failLeft: map[string]int{}}
	cp := t.TempDir() + "/cp.json"
	db, table := run(t, rec, 0, cp, nil, func(db *dynamodb.Client, table string) { put(db, table, 2) })
	if len(rec.seen()) != 2 {
		t.Fatalf("first run saw %v", rec.seen())
	}
	// A second poller on the same stream and checkpoint sees only new records.
	_, _ = db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]types.AttributeValue{
		"key_hash": &types.AttributeValueMemberS{Value: "h9"}, "org_id": &types.AttributeValueMemberS{Value: "o"}, "key_id": &types.AttributeValueMemberS{Value: "k9"}}})
	rec2 := &recorder{failLeft: map[string]int{}}
	streams, _ := streamsclient.New(context.Background(), os.Getenv("DYNAMODB_ENDPOINT"))
	p := &localstream.Poller{Streams: streams, Tables: db, TableName: table, Handler: lambda.NewHandler(rec2.handle),
		Mapping:    samtemplate.StreamMapping{Function: "F", BatchSize: 10, MaximumRetryAttempts: 0, ReportBatchFailures: true},
		Checkpoint: cp, Interval: 10 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	_ = p.Run(ctx)
	if got := strings.Join(rec2.seen(), ","); got != "h9" {
		t.Fatalf("after restart: %s", got)
	}
}

// poison fails any whole batch that contains the record h3.
type poison struct{ recorder }

func (p *poison) handle(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var hs []string
	for _, rec := range ev.Records {
		hs = append(hs, rec.Change.Keys["key_hash"].String())
	}
	p.delivered = append(p.delivered, "["+strings.Join(hs, ",")+"]")
	for _, h := range hs {
		if h == "h3" {
			return events.DynamoDBEventResponse{}, fmt.Errorf("poison record")
		}
	}
	return events.DynamoDBEventResponse{}, nil
}

func TestBisectOnFunctionError(t *testing.T) {
	db, tables := dynamotest.Setup(t)
	streams, _ := streamsclient.New(context.Background(), os.Getenv("DYNAMODB_ENDPOINT"))
	put(db, tables["KeysTable"], 6)
	var dlq bytes.Buffer
	rec := &poison{}
	p := &localstream.Poller{Streams: streams, Tables: db, TableName: tables["KeysTable"], Handler: lambda.NewHandler(rec.handle),
		Mapping:    samtemplate.StreamMapping{Function: "F", BatchSize: 10, MaximumRetryAttempts: 1, BisectBatchOnError: true},
		DeadLetter: &dlq, Interval: 10 * time.Millisecond, Backoff: time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	_ = p.Run(ctx)
	// The whole batch fails, its clean first half succeeds alone, the rest
	// (with the poison record) is retried once and then dead-lettered.
	if got := strings.Join(rec.seen(), " "); got != "[h0,h1,h2,h3,h4,h5] [h0,h1,h2] [h3,h4,h5]" {
		t.Fatalf("deliveries %s", got)
	}
	var d streamevents.DeadLetter
	if err := json.Unmarshal(dlq.Bytes(), &d); err != nil || d.ResponseContext.FunctionError != "Unhandled" || d.Batch.BatchSize != 3 {
		t.Fatalf("dead letter %q: %v", dlq.String(), err)
	}
}
