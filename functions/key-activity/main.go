// Command key-activity is the KeyActivityFunction Lambda: the access log's
// and the authorizer's log lines, delivered by CloudWatch Logs subscription
// filters, become each key's activity records and counters.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/flowella/apikeys/shared/activity"
	"github.com/flowella/apikeys/shared/dynamo"
)

func main() {
	log := lambdacontext.NewLogger()
	slog.SetDefault(log)
	cfg, err := activity.ConfigFromEnv(os.Getenv)
	if err != nil {
		log.Error("configuration", "error", err.Error())
		os.Exit(1)
	}
	db, err := dynamo.New(context.Background())
	if err != nil {
		log.Error("dynamodb client", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(activity.NewHandler(cfg, db, log).Handle)
}
