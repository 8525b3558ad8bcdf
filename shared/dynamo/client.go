// Package dynamo builds the DynamoDB clients every function uses, once per
// process, with the endpoint override used by sam local and the local stack.
package dynamo

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// New returns a client for AWS, or for the endpoint in DYNAMODB_ENDPOINT when
// set (DynamoDB Local).
func New(ctx context.Context) (*dynamodb.Client, error) {
	return NewWithEndpoint(ctx, os.Getenv("DYNAMODB_ENDPOINT"))
}

// NewWithEndpoint is New with an explicit endpoint ("" for AWS).
func NewWithEndpoint(ctx context.Context, endpoint string) (*dynamodb.Client, error) {
	cfg, err := AWSConfig(ctx, endpoint)
	if err != nil {
		return nil, err
	}
	return FromConfig(cfg, endpoint), nil
}

// FromConfig returns a client made from cfg, for AWS or, when endpoint is
// not "", for that endpoint (DynamoDB Local).
func FromConfig(cfg aws.Config, endpoint string) *dynamodb.Client {
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
			// DynamoDB Local's CRC32 header does not always match its body.
			o.DisableValidateResponseChecksum = true
		}
	})
}

// AWSConfig loads the default configuration. DynamoDB Local accepts any
// credentials, so placeholder ones are used when none are configured.
func AWSConfig(ctx context.Context, endpoint string) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if endpoint != "" {
		if os.Getenv("AWS_REGION") == "" && os.Getenv("AWS_DEFAULT_REGION") == "" {
			opts = append(opts, config.WithRegion("us-east-1"))
		}
		if os.Getenv("AWS_ACCESS_KEY_ID") == "" {
			opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
		}
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load aws config: %w", err)
	}
	return cfg, nil
}
