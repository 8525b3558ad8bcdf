// Command secret-scanning is the SecretScanningFunction Lambda: GitHub's
// secret scanning partner endpoint, POST /v1/secret-scanning/github, served
// by secretscan.Handler.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/flowella/apikeys/shared/deployconfig"
	"github.com/flowella/apikeys/shared/secretscan"
)

func main() {
	// Configuration, logger and DynamoDB client, once per process; GitHub's
	// keys are fetched when the first report arrives, then kept.
	fn, err := deployconfig.FromEnv(context.Background())
	if err != nil {
		fn.Log.Error("start-up", "error", err.Error())
		os.Exit(1)
	}
	h, err := secretscan.New(fn, os.Getenv("SECRET_SCANNING_KEYS_URL"))
	if err != nil {
		fn.Log.Error("start-up", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}
