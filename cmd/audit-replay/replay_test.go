package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/flowella/apikeys/local/dynamotest"
	"github.com/flowella/apikeys/local/localstream"
	"github.com/flowella/apikeys/shared/audit"
	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/samtemplate"
	"github.com/flowella/apikeys/shared/stamp"
	"github.com/flowella/apikeys/shared/streamevents"
	"github.com/flowella/apikeys/shared/streamsclient"
)

type fixture struct {
	db      *dynamodb.Client
	streams *dynamodbstreams.Client
	tables  dynamotest.Tables
	mapping samtemplate.StreamMapping
	keys    []string // key ids, one create each
	file    streamevents.DeadLetterFile
}

// newFixture makes n admin creates whose audit failed until the records
// were older than the template's age limit: they are in the dead-letter
// file, as the local stack's poller wrote them, and not in the audit log.
func newFixture(t *testing.T, n int) *fixture {
	t.Helper()
	db, tables := dynamotest.Setup(t)
	streams, err := streamsclient.New(context.Background(), os.Getenv("DYNAMODB_ENDPOINT"))
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := samtemplate.Load(dynamotest.TemplatePath(t))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{db: db, streams: streams, tables: tables, file: streamevents.DeadLetterFile{Path: filepath.Join(t.TempDir(), "dead-letters.jsonl")}}
	mappings, _ := tpl.StreamMappings()
	for _, m := range mappings {
		if m.Function == function {
			f.mapping = m
		}
	}
	ctx := context.Background()
	s := keystore.New(db, tables["KeysTable"], tables["OrgsTable"])
	if err := s.SetOrg(ctx, "org_t", "paid", []string{"audit_log"}); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		now := stamp.Of(time.Now())
		k := keystore.Key{Hash: fmt.Sprintf("%064x", i+1), ID: keystore.NewID(), OrgID: "org_t", Prefix: "flwl_test_abcdef",
			Label: fmt.Sprintf("k%d", i), Scopes: []string{"messages:send"}, Status: keystore.StatusActive, CreatedAt: now, CreatedBy: "u_t",
			LastChange: &keystore.Change{Op: keystore.OpCreate, At: now, Actor: keystore.Actor{UserID: "u_t", IP: "127.0.0.1"},
				Trace: keystore.Trace{RequestID: fmt.Sprintf("req-%d", i)}}}
		if err := s.Create(ctx, k); err != nil {
			t.Fatal(err)
		}
		f.keys = append(f.keys, k.ID)
		// A last-used write in between: the filter keeps it from the function.
		if _, err := s.TouchLastUsed(ctx, k.Hash, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	// The audit function fails every time; the clock moves 10 minutes a
	// retry, so the records pass the 6-hour limit after some 36 retries.
	var mu sync.Mutex
	now := time.Now()
	failing := lambda.NewHandler(func(context.Context, any) (any, error) { return nil, errors.New("audit table unavailable") })
	cp := filepath.Join(t.TempDir(), "cp.json")
	p := &localstream.Poller{Streams: streams, Tables: db, TableName: tables["KeysTable"], Mapping: f.mapping, Handler: failing,
		Checkpoint: cp, DeadLetter: f.file, Interval: 10 * time.Millisecond, Backoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond,
		Log: slog.New(slog.DiscardHandler),
		Now: func() time.Time { mu.Lock(); defer mu.Unlock(); now = now.Add(10 * time.Minute); return now }}
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = p.Run(pctx); close(done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(cp)
		if len(b) > 2 {
			break // checkpointed: past the dead-lettered batch
		}
		if time.Now().After(deadline) {
			t.Fatal("no checkpoint past the failing batch")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if entries, err := f.file.Read(); err != nil || len(entries) == 0 {
		t.Fatalf("dead letters %v: %v", entries, err)
	}
	if c := f.audited(t); len(c) != 0 {
		t.Fatalf("audit records before the replay: %v", c)
	}
	return f
}

// audited counts audit records by key id.
func (f *fixture) audited(t *testing.T) map[string]int {
	t.Helper()
	out, err := f.db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(f.tables["AuditTable"]), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	var recs []audit.Record
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &recs); err != nil {
		t.Fatal(err)
	}
	c := map[string]int{}
	for _, r := range recs {
		c[r.KeyID]++
	}
	return c
}

func (f *fixture) replay(t *testing.T) (int, string) {
	t.Helper()
	filters, err := streamevents.ParseFilters(f.mapping.FilterPatterns)
	if err != nil {
		t.Fatal(err)
	}
	h := &audit.Handler{DB: f.db, Table: f.tables["AuditTable"]}
	r := newReplayer(f.streams, h.Handle, filters, slog.Default())
	r.streamArn = localStreamArnOf(f.db, f.tables["KeysTable"])
	var out bytes.Buffer
	kept, err := run(context.Background(), &fileQueue{file: f.file}, r, &out)
	if err != nil {
		t.Fatal(err)
	}
	return kept, out.String()
}

func localStreamArnOf(db *dynamodb.Client, table string) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		if err != nil {
			return "", err
		}
		return aws.ToString(out.Table.LatestStreamArn), nil
	}
}

func TestReplayAuditsDeadLetteredRecordsExactlyOnce(t *testing.T) {
	f := newFixture(t, 12)
	kept, out := f.replay(t)
	if kept != 0 {
		t.Fatalf("kept %d:\n%s", kept, out)
	}
	for _, id := range f.keys {
		if n := f.audited(t)[id]; n != 1 {
			t.Errorf("key %s: %d audit records, want 1", id, n)
		}
	}
	if entries, err := f.file.Read(); err != nil || len(entries) != 0 {
		t.Fatalf("entries left after the replay: %v %v", entries, err)
	}
	// A second run finds nothing to do; replaying the same entries again
	// (as after a crash before the file was rewritten) adds nothing.
	if kept, out := f.replay(t); kept != 0 || !strings.Contains(out, "0 entries replayed") {
		t.Fatalf("second run: kept %d\n%s", kept, out)
	}
	t.Logf("first run:\n%s", out)
}

func TestReplayingTwiceAddsNothing(t *testing.T) {
	f := newFixture(t, 4)
	entries, _ := f.file.Read()
	if kept, out := f.replay(t); kept != 0 {
		t.Fatalf("kept %d:\n%s", kept, out)
	}
	// The same entries again, as if the first run died before removing them.
	for _, e := range entries {
		if err := writeEntry(f.file, e); err != nil {
			t.Fatal(err)
		}
	}
	if kept, out := f.replay(t); kept != 0 || !strings.Contains(out, fmt.Sprintf("%d entries replayed", len(entries))) {
		t.Fatalf("second run: kept %d\n%s", kept, out)
	}
	for _, id := range f.keys {
		if n := f.audited(t)[id]; n != 1 {
			t.Errorf("key %s: %d audit records after two replays, want 1", id, n)
		}
	}
}

func TestReplayKeepsWhatTheStreamNoLongerHolds(t *testing.T) {
	f := newFixture(t, 2)
	entries, _ := f.file.Read()
	gone := entries[0]
	gone.Batch.ShardID = "shardId-00000000000000000000-00000000" // a shard deleted 24 h after it closed
	if err := writeEntry(f.file, gone); err != nil {
		t.Fatal(err)
	}
	kept, out := f.replay(t)
	if kept != 1 || !strings.Contains(out, "LOST") || !strings.Contains(out, "no longer in the stream") {
		t.Fatalf("kept %d:\n%s", kept, out)
	}
	left, err := f.file.Read()
	if err != nil || len(left) != 1 || !left[0].Same(gone) {
		t.Fatalf("left %v %v, want the lost entry only", left, err)
	}
	for _, id := range f.keys {
		if n := f.audited(t)[id]; n != 1 {
			t.Errorf("key %s: %d audit records, want 1", id, n)
		}
	}
}

// The local dead-letter file's earlier format named the shard and the
// range but not the stream; such entries are replayed too.
func TestReplayReadsTheEarlierLocalFormat(t *testing.T) {
	f := newFixture(t, 3)
	entries, _ := f.file.Read()
	var legacy bytes.Buffer
	for _, e := range entries {
		fmt.Fprintf(&legacy, `{"time":%q,"function":"AuditFunction","shard":%q,"reason":"x","first_sequence_number":%q,"last_sequence_number":%q,"event_ids":["a"]}`+"\n",
			e.Timestamp, e.Batch.ShardID, e.Batch.StartSequenceNumber, e.Batch.EndSequenceNumber)
	}
	if err := os.WriteFile(f.file.Path, legacy.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if kept, out := f.replay(t); kept != 0 {
		t.Fatalf("kept %d:\n%s", kept, out)
	}
	for _, id := range f.keys {
		if n := f.audited(t)[id]; n != 1 {
			t.Errorf("key %s: %d audit records, want 1", id, n)
		}
	}
}

func writeEntry(f streamevents.DeadLetterFile, d streamevents.DeadLetter) error {
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	return err
}
