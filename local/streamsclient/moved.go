// Package streamsclient moved to shared/streamsclient, since cmd/audit-replay
// reads the stream in AWS with it. This keeps the local stack's tests
// building until their imports name the new path; then this package goes.
//
// Import github.com/flowella/apikeys/shared/streamsclient instead.
package streamsclient

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/flowella/apikeys/shared/streamsclient"
)

// New returns a DynamoDB Streams client for AWS, or for endpoint when set
// (DynamoDB Local).
func New(ctx context.Context, endpoint string) (*dynamodbstreams.Client, error) {
	return streamsclient.New(ctx, endpoint)
}
