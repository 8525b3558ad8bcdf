// Command roll-key is the RollKeyFunction Lambda: the admin endpoint served by
// adminapi.Handlers.Roll.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/flowella/apikeys/shared/adminapi"
	"github.com/flowella/apikeys/shared/deployconfig"
	"github.com/flowella/apikeys/shared/keystore"
)

func main() {
	fn, err := deployconfig.FromEnv(context.Background())
	if err != nil {
		fn.Log.Error("start-up", "error", err.Error())
		os.Exit(1)
	}
	h := &adminapi.Handlers{
		Store:   keystore.New(fn.DB, fn.KeysTable, fn.OrgsTable),
		Catalog: fn.Catalog,
		Env:     fn.KeyEnv,
		Log:     fn.Log,
	}
	lambda.Start(h.Roll())
}
