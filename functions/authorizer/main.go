// Command authorizer is the AuthorizerFunction Lambda: it verifies the bearer
// API key or session token of every API request.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/flowella/apikeys/shared/authorizer"
	"github.com/flowella/apikeys/shared/deployconfig"
	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/secretsource"
	"github.com/flowella/apikeys/shared/session"
)

func main() {
	ctx := context.Background()
	fn, err := deployconfig.FromEnv(ctx)
	if err != nil {
		fn.Log.Error("start-up", "error", err.Error())
		os.Exit(1)
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fn.Log.Error("aws config", "error", err.Error())
		os.Exit(1)
	}
	// A secret named by SESSION_HS256_SECRET_NAME is read from SSM or Secrets
	// Manager here, once; a JWKS verifier keeps the key set fresh in the
	// background.
	sessionCfg := session.ConfigFromEnv(os.Getenv)
	sessionCfg.ReadSecret = secretsource.New(awsCfg).Read
	sessions, err := session.NewVerifier(ctx, sessionCfg)
	if err != nil {
		fn.Log.Error("session verifier", "error", err.Error())
		os.Exit(1)
	}
	store := keystore.New(fn.DB, fn.KeysTable, fn.OrgsTable)
	a := authorizer.New(authorizer.Config{
		Keys:     store,
		Orgs:     store,
		Catalog:  fn.Catalog,
		Sessions: sessions,
		Env:      fn.KeyEnv,
		Log:      fn.Log,
	})
	lambda.Start(a.Handle)
}
