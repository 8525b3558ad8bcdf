// Command authorizer is the AuthorizerFunction Lambda: it verifies the bearer
// API key or session token of every API request.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/flowella/apikeys/shared/authorizer"
	"github.com/flowella/apikeys/shared/deployconfig"
	"github.com/flowella/apikeys/shared/dynamo"
	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/session"
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
	sessions, err := session.NewVerifier(ctx, session.ConfigFromEnv())
	if err != nil {
		log.Error("session verifier", "error", err.Error())
		os.Exit(1)
	}
	slog.SetDefault(log)
	store := keystore.New(db, cfg.KeysTable, cfg.OrgsTable)
	a := authorizer.New(authorizer.Config{
		Keys:     store,
		Orgs:     store,
		Catalog:  cfg.Catalog,
		Sessions: sessions,
		Env:      cfg.KeyEnv,
		Log:      log,
	})
	lambda.Start(a.Handle)
}
