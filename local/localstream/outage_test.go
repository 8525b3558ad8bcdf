package localstream_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/flowella/apikeys/local/dynamotest"
	"github.com/flowella/apikeys/local/localstream"
	"github.com/flowella/apikeys/local/syncbuf"
	"github.com/flowella/apikeys/shared/audit"
	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/samtemplate"
	"github.com/flowella/apikeys/shared/stamp"
	"github.com/flowella/apikeys/shared/streamevents"
	"github.com/flowella/apikeys/shared/streamsclient"
)

// faultyHTTP sits under a real SDK client and fails the named operations
// while down() holds, as DynamoDB Local cannot: "throttle" answers 400
// ProvisionedThroughputExceededException as DynamoDB does, "unreachable"
// refuses the connection as a stopped DynamoDB Local does.
type faultyHTTP struct {
	next   aws.HTTPClient
	down   func() bool
	ops    []string // operation names, e.g. PutItem, GetRecords
	mode   string   // "throttle" or "unreachable"
	failed atomic.Int64
}

func (f *faultyHTTP) Do(r *http.Request) (*http.Response, error) {
	target := r.Header.Get("X-Amz-Target")
	op := target[strings.LastIndex(target, ".")+1:]
	if !slices.Contains(f.ops, op) || !f.down() {
		return f.next.Do(r)
	}
	f.failed.Add(1)
	if f.mode == "unreachable" {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	}
	body := `{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"injected: throughput exceeded"}`
	return &http.Response{StatusCode: 400, Status: "400 Bad Request", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/x-amz-json-1.0"}},
		Body:   io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: r}, nil
}

// withFaults returns a copy of db whose named operations fail while down().
// One attempt per call: the poller's retries are under test, not the SDK's.
func withFaults(db *dynamodb.Client, down func() bool, ops ...string) (*dynamodb.Client, *faultyHTTP) {
	f := &faultyHTTP{down: down, ops: ops, mode: "throttle"}
	return dynamodb.New(db.Options(), func(o *dynamodb.Options) {
		f.next = o.HTTPClient
		o.HTTPClient = f
		o.RetryMaxAttempts = 1
	}), f
}

// auditMapping is the template's own stream mapping for the audit function.
func auditMapping(t *testing.T) samtemplate.StreamMapping {
	t.Helper()
	tpl, err := samtemplate.Load(dynamotest.TemplatePath(t))
	if err != nil {
		t.Fatal(err)
	}
	mappings, err := tpl.StreamMappings()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mappings {
		if m.Function == "AuditFunction" {
			return m
		}
	}
	t.Fatal("no stream mapping for AuditFunction")
	return samtemplate.StreamMapping{}
}

// createKeys makes n admin creates in one organisation.
func createKeys(t *testing.T, db *dynamodb.Client, tables dynamotest.Tables, n int) []string {
	t.Helper()
	ctx := context.Background()
	s := keystore.New(db, tables["KeysTable"], tables["OrgsTable"])
	if err := s.SetOrg(ctx, "org_t", "paid", []string{"audit_log"}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range n {
		now := stamp.Of(time.Now())
		k := keystore.Key{Hash: fmt.Sprintf("%064x", i+1), ID: keystore.NewID(), OrgID: "org_t", Prefix: "flwl_test_abcdef",
			Label: fmt.Sprintf("k%d", i), Scopes: []string{"messages:send"}, Status: keystore.StatusActive, CreatedAt: now, CreatedBy: "u_t",
			LastChange: &keystore.Change{Op: keystore.OpCreate, At: now, Actor: keystore.Actor{UserID: "u_t", IP: "127.0.0.1"},
				Trace: keystore.Trace{RequestID: fmt.Sprintf("req-%d", i)}}}
		if err := s.Create(ctx, k); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, k.ID)
	}
	return ids
}

// auditCounts counts the audit table's records by key id.
func auditCounts(t *testing.T, db *dynamodb.Client, table string) map[string]int {
	t.Helper()
	out, err := db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	var recs []audit.Record
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &recs); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, r := range recs {
		counts[r.KeyID]++
	}
	return counts
}

// failures counts the invocations whose answer reported failed records.
type failures struct {
	lambda.Handler
	n atomic.Int64
}

func (f *failures) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	out, err := f.Handler.Invoke(ctx, payload)
	var resp events.DynamoDBEventResponse
	if err != nil || json.Unmarshal(out, &resp) == nil && len(resp.BatchItemFailures) > 0 {
		f.n.Add(1)
	}
	return out, err
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func startPoller(t *testing.T, p *localstream.Poller) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

// The audit table refuses every write for longer than the old budget of 5
// retries: the batch is retried, with backoff, until the writes succeed.
func TestAuditRidesOutAnOutageOfTheAuditTable(t *testing.T) {
	db, tables := dynamotest.Setup(t)
	streams, err := streamsclient.New(context.Background(), os.Getenv("DYNAMODB_ENDPOINT"))
	if err != nil {
		t.Fatal(err)
	}
	var down atomic.Bool
	down.Store(true)
	auditDB, faults := withFaults(db, down.Load, "PutItem", "TransactWriteItems")
	h := &failures{Handler: lambda.NewHandler((&audit.Handler{DB: auditDB, Table: tables["AuditTable"]}).Handle)}
	ids := createKeys(t, db, tables, 30)
	var dlq bytes.Buffer
	stop := startPoller(t, &localstream.Poller{Streams: streams, Tables: db, TableName: tables["KeysTable"], Mapping: auditMapping(t),
		Handler: h, DeadLetter: &dlq, Interval: 10 * time.Millisecond, Backoff: 5 * time.Millisecond, MaxBackoff: 40 * time.Millisecond})
	// Lambda gave up after an invocation and 5 retries before; wait for
	// twice as many failed invocations, then let the writes through.
	waitFor(t, "12 failed invocations", func() bool { return h.n.Load() >= 12 })
	down.Store(false)
	waitFor(t, "every audit record", func() bool { return len(auditCounts(t, db, tables["AuditTable"])) == len(ids) })
	stop()
	for _, id := range ids {
		if n := auditCounts(t, db, tables["AuditTable"])[id]; n != 1 {
			t.Errorf("key %s: %d audit records, want 1", id, n)
		}
	}
	if dlq.Len() != 0 {
		t.Fatalf("dead letters after an outage the retries should ride out: %s", dlq.String())
	}
	t.Logf("%d failed invocations, %d refused writes, then every record audited once", h.n.Load(), faults.failed.Load())
}

// clock is a test clock for record ages: every reading moves it on by step.
type clock struct {
	mu   sync.Mutex
	now  time.Time
	step time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(c.step)
	return c.now
}

func (c *clock) peek() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// With the template's settings a batch is retried until its records are
// 6 hours old: an outage of 5 h 50 min (on a clock that moves 10 minutes
// a retry) loses nothing; one that lasts past 6 h sends the batch to the
// dead-letter destination, as RecordAgeExceeded, and moves on.
func TestRetriesLastUntilTheRecordAgeLimit(t *testing.T) {
	for _, tc := range []struct {
		name      string
		outage    time.Duration
		deadLeter bool
	}{
		{"outage shorter than the age limit", 5*time.Hour + 50*time.Minute, false},
		{"outage longer than the age limit", 48 * time.Hour, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, tables := dynamotest.Setup(t)
			streams, err := streamsclient.New(context.Background(), os.Getenv("DYNAMODB_ENDPOINT"))
			if err != nil {
				t.Fatal(err)
			}
			mapping := auditMapping(t)
			if mapping.MaximumRetryAttempts != -1 || mapping.MaximumRecordAge != 6*3600 {
				t.Fatalf("template: MaximumRetryAttempts %d, MaximumRecordAge %d; this test expects -1 and 21600",
					mapping.MaximumRetryAttempts, mapping.MaximumRecordAge)
			}
			clk := &clock{now: time.Now(), step: 10 * time.Minute}
			end := clk.peek().Add(tc.outage)
			auditDB, _ := withFaults(db, func() bool { return clk.peek().Before(end) }, "PutItem", "TransactWriteItems")
			ids := createKeys(t, db, tables, 5)
			var dlq syncbuf.Buffer
			cp := t.TempDir() + "/cp.json"
			stop := startPoller(t, &localstream.Poller{Streams: streams, Tables: db, TableName: tables["KeysTable"], Mapping: mapping,
				Handler:    lambda.NewHandler((&audit.Handler{DB: auditDB, Table: tables["AuditTable"]}).Handle),
				Checkpoint: cp, DeadLetter: &dlq, Interval: 10 * time.Millisecond, Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, Now: clk.Now})
			if tc.deadLeter {
				waitFor(t, "a dead letter", func() bool { return dlq.Len() > 0 })
				waitFor(t, "the checkpoint", func() bool { b, _ := os.ReadFile(cp); return len(b) > 2 })
				stop()
				var d streamevents.DeadLetter
				if err := json.Unmarshal(dlq.Bytes(), &d); err != nil {
					t.Fatalf("dead letter %q: %v", dlq.String(), err)
				}
				if d.RequestContext.Condition != streamevents.ConditionRecordAge || d.Batch.BatchSize < len(ids) || // keys and their id pointers
					d.RequestContext.ApproximateInvokeCount < 30 || d.Batch.StreamArn == "" || d.Batch.ShardID == "" {
					t.Fatalf("dead letter %s", dlq.String())
				}
				if n := len(auditCounts(t, db, tables["AuditTable"])); n != 0 {
					t.Fatalf("%d audit records during the outage", n)
				}
				return
			}
			waitFor(t, "every audit record", func() bool { return len(auditCounts(t, db, tables["AuditTable"])) == len(ids) })
			stop()
			if dlq.Len() != 0 {
				t.Fatalf("dead letter within the age limit: %s", dlq.String())
			}
			for _, id := range ids {
				if n := auditCounts(t, db, tables["AuditTable"])[id]; n != 1 {
					t.Errorf("key %s: %d audit records, want 1", id, n)
				}
			}
		})
	}
}

// DynamoDB Local cannot be reached for a while (its stream included): the
// poller keeps its place, and afterwards every record arrives exactly once.
func TestStreamOutageKeepsItsPlace(t *testing.T) {
	db, tables := dynamotest.Setup(t)
	real, err := streamsclient.New(context.Background(), os.Getenv("DYNAMODB_ENDPOINT"))
	if err != nil {
		t.Fatal(err)
	}
	var down atomic.Bool
	f := &faultyHTTP{down: down.Load, ops: []string{"DescribeStream", "GetShardIterator", "GetRecords"}, mode: "unreachable"}
	streams := dynamodbstreams.New(real.Options(), func(o *dynamodbstreams.Options) {
		f.next = o.HTTPClient
		o.HTTPClient = f
		o.RetryMaxAttempts = 1
	})
	rec := &recorder{failLeft: map[string]int{}}
	table := tables["KeysTable"]
	stop := startPoller(t, &localstream.Poller{Streams: streams, Tables: db, TableName: table, Handler: lambda.NewHandler(rec.handle),
		Mapping:  samtemplate.StreamMapping{Function: "F", BatchSize: 10, MaximumRetryAttempts: -1, ReportBatchFailures: true},
		Interval: 10 * time.Millisecond, Backoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	putRange(db, table, 0, 5)
	waitFor(t, "the first records", func() bool { return len(rec.seen()) == 5 })
	down.Store(true)
	putRange(db, table, 5, 10)
	waitFor(t, "failed polls", func() bool { return f.failed.Load() >= 10 })
	down.Store(false)
	waitFor(t, "the rest", func() bool { return len(rec.seen()) >= 10 })
	time.Sleep(100 * time.Millisecond) // room for a redelivery, were there one
	stop()
	want := []string{"h0", "h1", "h2", "h3", "h4", "h5", "h6", "h7", "h8", "h9"}
	if got := rec.seen(); !slices.Equal(got, want) {
		t.Fatalf("deliveries %v, want each record once, in order", got)
	}
}

// While records remain, the poller polls again at once: with an idle
// interval of an hour, 250 waiting records still arrive, 100 at a time.
func TestDrainsWithoutIdling(t *testing.T) {
	db, tables := dynamotest.Setup(t)
	streams, err := streamsclient.New(context.Background(), os.Getenv("DYNAMODB_ENDPOINT"))
	if err != nil {
		t.Fatal(err)
	}
	putRange(db, tables["KeysTable"], 0, 250)
	b := &batches{}
	stop := startPoller(t, &localstream.Poller{Streams: streams, Tables: db, TableName: tables["KeysTable"], Handler: lambda.NewHandler(b.handle),
		Mapping: samtemplate.StreamMapping{Function: "F", BatchSize: 100, MaximumRetryAttempts: -1, ReportBatchFailures: true}, Interval: time.Hour})
	waitFor(t, "250 records", func() bool { return b.records() == 250 })
	stop()
	if sizes := b.get(); len(sizes) < 3 || slices.Max(sizes) > 100 {
		t.Fatalf("batch sizes %v", sizes)
	}
}

type batches struct {
	mu    sync.Mutex
	sizes []int
}

func (b *batches) handle(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sizes = append(b.sizes, len(ev.Records))
	return events.DynamoDBEventResponse{}, nil
}

func (b *batches) get() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.sizes)
}

func (b *batches) records() int {
	n := 0
	for _, s := range b.get() {
		n += s
	}
	return n
}
