// Package lambdafn is how every function is built and started: a Builder
// makes a function's handler from its Env (its environment variables and its
// AWS clients), and Main runs one in Lambda. The local stack calls the same
// builders with its own clients (package functions maps logical ids to them),
// so what make run proves is what Lambda runs.
package lambdafn

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/flowella/apikeys/shared/dynamo"
)

// Env is what a function is built with, once per process.
type Env struct {
	// Getenv reads the function's environment variables: os.Getenv in
	// Lambda, the template's variables in the local stack.
	Getenv func(string) string
	// AWS is the configuration the function's other AWS clients are made
	// from (the authorizer's SSM and Secrets Manager reads).
	AWS aws.Config
	// DB is the function's DynamoDB client.
	DB *dynamodb.Client
	// Log is the function's logger (JSON, with the request id, in Lambda).
	Log *slog.Logger
}

// Builder makes a function's handler, a value lambda.Start accepts. It fails
// when a variable the function needs is missing or malformed, so that a
// misconfigured function stops at start-up rather than on a request.
type Builder func(ctx context.Context, env Env) (handler any, err error)

// Required returns the values of the named variables, or an error naming
// every one that is empty.
func (e Env) Required(names ...string) ([]string, error) {
	vals := make([]string, len(names))
	var missing []string
	for i, n := range names {
		if vals[i] = e.Getenv(n); vals[i] == "" {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return nil, MissingError(missing)
	}
	return vals, nil
}

// MissingError names required variables that are empty.
type MissingError []string

func (m MissingError) Error() string {
	verb := "is"
	if len(m) > 1 {
		verb = "are"
	}
	return fmt.Sprintf("configuration: %s %s not set (template.yaml sets it for this function)", strings.Join(m, ", "), verb)
}

// Main builds the function with b from the process environment and starts
// it. The Lambda JSON logger (with the request id) becomes slog's default;
// the AWS configuration and the DynamoDB client (DYNAMODB_ENDPOINT when set)
// are made once. If the build fails, Main logs why and exits 1, so Lambda
// reports an initialisation error and no request is ever served half-built.
func Main(b Builder) {
	log := lambdacontext.NewLogger()
	slog.SetDefault(log)
	h, err := Build(context.Background(), b, os.Getenv, log)
	if err != nil {
		log.Error("start-up", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h)
}

// Build makes the AWS clients from getenv's DYNAMODB_ENDPOINT and the
// default AWS configuration, then the handler with b.
func Build(ctx context.Context, b Builder, getenv func(string) string, log *slog.Logger) (any, error) {
	endpoint := getenv("DYNAMODB_ENDPOINT")
	cfg, err := dynamo.AWSConfig(ctx, endpoint)
	if err != nil {
		return nil, err
	}
	return b(ctx, Env{Getenv: getenv, AWS: cfg, DB: dynamo.FromConfig(cfg, endpoint), Log: log})
}
