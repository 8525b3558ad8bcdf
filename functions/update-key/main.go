// Command update-key is the UpdateKeyFunction Lambda: the admin endpoint served by
// adminapi.Handlers.Update.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/flowella/apikeys/shared/adminapi"
	"github.com/flowella/apikeys/shared/deployconfig"
	"github.com/flowella/apikeys/shared/dynamo"
	"github.com/flowella/apikeys/shared/keystore"
)

func main() {
	ctx := context.Background()
	log := lambdacontext.NewLogger()
	cfg, err := deployconfig.Load(os.Getenv)
	if err != nil {
		log.Error("configuration", "error", err.Error())
		os.Exit(1)
	}
	db, err := dynamo.New(ctx)
	if err != nil {
		log.Error("dynamodb client", "error", err.Error())
		os.Exit(1)
	}
	slog.SetDefault(log)
	h := &adminapi.Handlers{
		Store:   keystore.New(db, cfg.KeysTable, cfg.OrgsTable),
		Catalog: cfg.Catalog,
		Env:     cfg.KeyEnv,
		Log:     log,
	}
	lambda.Start(h.Update())
}
