package streamevents

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

const testStreamArn = "arn:aws:dynamodb:eu-west-1:123456789012:table/KeysTable/stream/2026-01-01T00:00:00.000"

func streamRecord(name types.OperationType, newImage map[string]types.AttributeValue) types.Record {
	return types.Record{
		EventID: aws.String("e1"), EventName: name, EventVersion: aws.String("1.1"), AwsRegion: aws.String("eu-west-1"),
		Dynamodb: &types.StreamRecord{
			SequenceNumber:              aws.String("000000000000000000123"),
			SizeBytes:                   aws.Int64(42),
			StreamViewType:              types.StreamViewTypeNewAndOldImages,
			ApproximateCreationDateTime: aws.Time(time.Unix(1767225600, 0)),
			Keys:                        map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "KEY#a"}},
			NewImage:                    newImage,
		},
	}
}

// The record has the shape Lambda delivers, and its generic form is what
// the event source mapping's filter patterns are matched against.
func TestLambdaRecord(t *testing.T) {
	img := map[string]types.AttributeValue{
		"pk":          &types.AttributeValueMemberS{Value: "KEY#a"},
		"version":     &types.AttributeValueMemberN{Value: "3"},
		"last_change": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"op": &types.AttributeValueMemberS{Value: "revoke"}}},
	}
	rec, generic, err := LambdaRecord(streamRecord(types.OperationTypeModify, img), testStreamArn)
	if err != nil {
		t.Fatal(err)
	}
	if rec.EventSource != "aws:dynamodb" || rec.EventSourceArn != testStreamArn || rec.EventName != "MODIFY" || rec.AWSRegion != "eu-west-1" {
		t.Errorf("envelope: %+v", rec)
	}
	c := rec.Change
	if c.SequenceNumber != "000000000000000000123" || c.SizeBytes != 42 || c.StreamViewType != "NEW_AND_OLD_IMAGES" ||
		!c.ApproximateCreationDateTime.Time.Equal(time.Unix(1767225600, 0)) {
		t.Errorf("change: %+v", c)
	}
	if c.Keys["pk"].String() != "KEY#a" || c.NewImage["version"].Number() != "3" || c.NewImage["last_change"].Map()["op"].String() != "revoke" {
		t.Errorf("images: keys %v, new %v", c.Keys, c.NewImage)
	}
	if c.OldImage != nil {
		t.Errorf("an image the stream record lacks is absent, got %v", c.OldImage)
	}

	adminChange, err := ParseFilter(`{"eventName":["MODIFY"],"dynamodb":{"NewImage":{"last_change":{"M":{"op":{"S":[{"exists":true}]}}}}}}`)
	if err != nil {
		t.Fatal(err)
	}
	if !adminChange.Match(generic) {
		t.Errorf("the filter does not see the converted record: %v", generic)
	}
	_, lastUsed, err := LambdaRecord(streamRecord(types.OperationTypeModify, map[string]types.AttributeValue{
		"last_used_at": &types.AttributeValueMemberS{Value: "2026-01-01T00:00:00.000Z"},
	}), testStreamArn)
	if err != nil {
		t.Fatal(err)
	}
	if adminChange.Match(lastUsed) {
		t.Errorf("a last-used update passes the admin-change filter: %v", lastUsed)
	}
}
