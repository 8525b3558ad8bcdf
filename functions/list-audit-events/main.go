// Command list-audit-events is the ListAuditEventsFunction Lambda:
// GET /v1/audit-events.
package main

import (
	"context"
	"errors"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/flowella/apikeys/shared/adminapi"
	"github.com/flowella/apikeys/shared/audit"
	"github.com/flowella/apikeys/shared/deployconfig"
	"github.com/flowella/apikeys/shared/keystore"
)

func main() {
	fn, err := deployconfig.FromEnv(context.Background())
	if err == nil && fn.AuditTable == "" {
		err = errors.New("AUDIT_TABLE must be set")
	}
	if err != nil {
		fn.Log.Error("start-up", "error", err.Error())
		os.Exit(1)
	}
	h := &adminapi.Handlers{
		Store: keystore.New(fn.DB, fn.KeysTable, fn.OrgsTable),
		Audit: audit.Log{DB: fn.DB, Table: fn.AuditTable},
		Log:   fn.Log,
	}
	lambda.Start(h.AuditEvents())
}
