package streamevents

import (
	"encoding/json"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// LambdaRecord turns a DynamoDB Streams record into the record Lambda
// delivers, and into generic JSON for event filtering.
func LambdaRecord(r types.Record, streamArn string) (events.DynamoDBEventRecord, map[string]any, error) {
	sr := r.Dynamodb
	wire := map[string]any{
		"eventID":        aws.ToString(r.EventID),
		"eventName":      string(r.EventName),
		"eventVersion":   aws.ToString(r.EventVersion),
		"eventSource":    "aws:dynamodb",
		"awsRegion":      aws.ToString(r.AwsRegion),
		"eventSourceARN": streamArn,
	}
	change := map[string]any{
		"SequenceNumber": aws.ToString(sr.SequenceNumber),
		"SizeBytes":      aws.ToInt64(sr.SizeBytes),
		"StreamViewType": string(sr.StreamViewType),
	}
	if sr.ApproximateCreationDateTime != nil {
		change["ApproximateCreationDateTime"] = sr.ApproximateCreationDateTime.Unix()
	}
	for name, img := range map[string]map[string]types.AttributeValue{"Keys": sr.Keys, "NewImage": sr.NewImage, "OldImage": sr.OldImage} {
		if img == nil {
			continue
		}
		ddb, err := attributevalue.FromDynamoDBStreamsMap(img)
		if err != nil {
			return events.DynamoDBEventRecord{}, nil, err
		}
		j, err := attributevalue.MarshalMapJSON(ddb)
		if err != nil {
			return events.DynamoDBEventRecord{}, nil, err
		}
		change[name] = json.RawMessage(j)
	}
	wire["dynamodb"] = change
	b, err := json.Marshal(wire)
	if err != nil {
		return events.DynamoDBEventRecord{}, nil, err
	}
	var rec events.DynamoDBEventRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return events.DynamoDBEventRecord{}, nil, err
	}
	var generic map[string]any
	if err := json.Unmarshal(b, &generic); err != nil {
		return events.DynamoDBEventRecord{}, nil, err
	}
	return rec, generic, nil
}
