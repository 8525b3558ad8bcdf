// Package localstack runs the whole system on one machine: it reads
// template.yaml for tables, routes, the authorizer and stream wiring, builds
// each function's handler with the environment the template gives it, and
// serves them through the local API Gateway.
package localstack

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/flowella/apikeys/functions"
	"github.com/flowella/apikeys/shared/lambdafn"
)

// build makes a template function's handler with the builder its main.go
// passes to lambdafn.Main, from the template's environment and the stack's
// clients: db is the function's own DynamoDB client, held to its role in
// template.yaml (local/localiam); log is its logger (slog's default, and its
// log group when a subscription filter reads that, logs.go).
func build(ctx context.Context, fn string, env map[string]string, db *dynamodb.Client, log *slog.Logger) (any, error) {
	b, ok := functions.Builder(fn)
	if !ok {
		return nil, fmt.Errorf("template function %s has no builder in package functions", fn)
	}
	if env["SESSION_HS256_SECRET_NAME"] != "" {
		// awsConfig points every client at DynamoDB Local: an SSM or
		// Secrets Manager read would go there and fail obscurely.
		return nil, fmt.Errorf("build %s: the local stack reads no SSM or Secrets Manager: leave SessionHS256SecretName empty and give the secret as SESSION_HS256_SECRET", fn)
	}
	h, err := b(ctx, lambdafn.Env{Getenv: func(k string) string { return env[k] }, AWS: awsConfig(db), DB: db, Log: log})
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", fn, err)
	}
	return h, nil
}

// awsConfig is the configuration of the stack's local endpoint, for the
// clients a builder makes besides DynamoDB's.
func awsConfig(db *dynamodb.Client) aws.Config {
	o := db.Options()
	return aws.Config{Region: o.Region, Credentials: o.Credentials, HTTPClient: o.HTTPClient, BaseEndpoint: o.BaseEndpoint}
}
