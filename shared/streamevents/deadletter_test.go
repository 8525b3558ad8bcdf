package streamevents

import (
	"encoding/json"
	"testing"
)

// The document Lambda sends to a DynamoDB event source's on-failure
// destination (services-dynamodb-errors in the Lambda developer guide), with
// made-up values: every field the replay reads must come through.
func TestDeadLetterReadsLambdasDocument(t *testing.T) {
	doc := `{
	  "requestContext": {"requestId": "5d3f0b6e-1c2a-4e7b-9a31-0c9d2f1e8a77",
	    "functionArn": "arn:aws:lambda:eu-west-1:123456789012:function:audit",
	    "condition": "RecordAgeExceeded", "approximateInvokeCount": 4},
	  "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
	  "version": "1.0",
	  "timestamp": "2026-01-01T10:00:00.123Z",
	  "DDBStreamBatchInfo": {"shardId": "shardId-00000001767225600000-0a1b2c3d",
	    "startSequenceNumber": "900000000000000000001", "endSequenceNumber": "900000000000000000042",
	    "approximateArrivalOfFirstRecord": "2026-01-01T09:00:00Z", "approximateArrivalOfLastRecord": "2026-01-01T09:00:05Z",
	    "batchSize": 7, "streamArn": "` + testStreamArn + `"}
	}`
	var d DeadLetter
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		t.Fatal(err)
	}
	want := BatchInfo{ShardID: "shardId-00000001767225600000-0a1b2c3d", StartSequenceNumber: "900000000000000000001",
		EndSequenceNumber: "900000000000000000042", ApproximateArrivalOfFirstRecord: "2026-01-01T09:00:00Z",
		ApproximateArrivalOfLastRecord: "2026-01-01T09:00:05Z", BatchSize: 7, StreamArn: testStreamArn}
	if d.Batch != want {
		t.Errorf("batch %+v, want %+v", d.Batch, want)
	}
	if d.RequestContext.Condition != ConditionRecordAge || d.RequestContext.ApproximateInvokeCount != 4 ||
		d.ResponseContext.FunctionError != "Unhandled" || d.Timestamp != "2026-01-01T10:00:00.123Z" {
		t.Errorf("contexts %+v %+v, timestamp %q", d.RequestContext, d.ResponseContext, d.Timestamp)
	}
	other := d
	other.Batch.EndSequenceNumber = "900000000000000000043"
	if !d.Same(d) || d.Same(other) {
		t.Error("Same: a batch is itself, and not one ending elsewhere")
	}
}
