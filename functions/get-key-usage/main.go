// Command get-key-usage is the GetKeyUsageFunction Lambda: the admin endpoint
// served by adminapi.Handlers.KeyUsage (GET /v1/api-keys/{id}/usage: a key's
// request counts by hour or day).
package main

import (
	"context"
	"errors"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/flowella/apikeys/shared/adminapi"
	"github.com/flowella/apikeys/shared/deployconfig"
)

func main() {
	// Configuration, logger and DynamoDB client, once per process.
	fn, err := deployconfig.FromEnv(context.Background())
	if err == nil && fn.ActivityTable == "" {
		err = errors.New("ACTIVITY_TABLE must be set")
	}
	if err != nil {
		fn.Log.Error("start-up", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(adminapi.New(fn).KeyUsage())
}
