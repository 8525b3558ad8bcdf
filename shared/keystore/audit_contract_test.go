package keystore_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/flowella/apikeys/local/dynamotest"
	"github.com/flowella/apikeys/shared/audit"
	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/samtemplate"
	"github.com/flowella/apikeys/shared/streamevents"
	"github.com/flowella/apikeys/shared/streamsclient"
)

// The id pointers written with keys must never become audit records: the
// template's event filter passes every change, and the function records
// nothing for a pointer. Both are checked on the stream DynamoDB Local
// really produces.
func TestPointerItemsNeverReachTheAudit(t *testing.T) {
	s, db, tables := newStore(t)
	ctx := context.Background()
	k, _ := newKey(t, s, "org_a")
	next, c := successor(t, k)
	if _, err := s.Roll(ctx, "org_a", k, next, time.Hour, c); err != nil {
		t.Fatal(err)
	}

	tpl, err := samtemplate.Load(dynamotest.TemplatePath(t))
	if err != nil {
		t.Fatal(err)
	}
	mappings, err := tpl.StreamMappings()
	if err != nil || len(mappings) != 1 {
		t.Fatalf("stream mappings: %v %v", mappings, err)
	}
	filters, err := streamevents.ParseFilters(mappings[0].FilterPatterns)
	if err != nil {
		t.Fatal(err)
	}

	pointers, audited := 0, 0
	for _, r := range streamRecords(t, db, tables["KeysTable"]) {
		rec, generic, err := streamevents.LambdaRecord(r, "arn:aws:dynamodb:us-east-1:000000000000:table/KeysTable/stream/x")
		if err != nil {
			t.Fatal(err)
		}
		out, err := audit.FromStream(rec)
		if err != nil {
			t.Fatal(err)
		}
		hash, _ := r.Dynamodb.Keys["key_hash"].(*streamtypes.AttributeValueMemberS)
		if hash != nil && keystore.IsPointer(hash.Value) {
			pointers++
			// The filter passes every change (so no writer can dodge the
			// audit); the function knows a pointer from a key.
			if !streamevents.MatchAny(filters, generic) {
				t.Errorf("the template's stream filter drops the pointer %s: a change to it would go unseen", hash.Value)
			}
			if len(out) != 0 {
				t.Errorf("the audit function makes %d records of the pointer %s: %+v", len(out), hash.Value, out)
			}
			continue
		}
		audited += len(out)
	}
	if pointers != 2 {
		t.Fatalf("%d pointer records in the stream, want 2 (the key and its successor)", pointers)
	}
	// created ×2, rolled: the keys themselves are audited as before.
	if audited != 3 {
		t.Fatalf("%d audit records from the keys, want 3", audited)
	}
}

// streamRecords reads every record of table's stream so far.
func streamRecords(t *testing.T, db *dynamodb.Client, table string) []streamtypes.Record {
	t.Helper()
	ctx := context.Background()
	desc, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil || desc.Table.LatestStreamArn == nil {
		t.Fatalf("describe %s: %v", table, err)
	}
	streams, err := streamsclient.New(ctx, os.Getenv("DYNAMODB_ENDPOINT"))
	if err != nil {
		t.Fatal(err)
	}
	sd, err := streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: desc.Table.LatestStreamArn})
	if err != nil {
		t.Fatal(err)
	}
	var out []streamtypes.Record
	for _, shard := range sd.StreamDescription.Shards {
		it, err := streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: desc.Table.LatestStreamArn,
			ShardId: shard.ShardId, ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		iter := it.ShardIterator
		for iter != nil {
			page, err := streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, page.Records...)
			if len(page.Records) == 0 {
				break
			}
			iter = page.NextShardIterator
		}
	}
	return out
}
