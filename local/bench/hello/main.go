// Command hello is the smallest Lambda function in Go: the baseline that
// make bench compares each function's bootstrap size and cold start with.
// make bench-hello builds it as make build-<LogicalId> builds a function.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(context.Context, map[string]any) (string, error) { return "hello", nil })
}
