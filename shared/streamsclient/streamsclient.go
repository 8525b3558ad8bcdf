// Package streamsclient builds the DynamoDB Streams client that the local
// stream poller and the audit replay read with. No Lambda function reads a
// stream itself (Lambda delivers the records), so none links this package
// (functions/deps_test.go checks that no function links the client).
package streamsclient

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/flowella/apikeys/shared/dynamo"
)

// New returns a DynamoDB Streams client for AWS, or for endpoint when set
// (DynamoDB Local).
func New(ctx context.Context, endpoint string) (*dynamodbstreams.Client, error) {
	cfg, err := dynamo.AWSConfig(ctx, endpoint)
	if err != nil {
		return nil, err
	}
	return dynamodbstreams.NewFromConfig(cfg, func(o *dynamodbstreams.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}
