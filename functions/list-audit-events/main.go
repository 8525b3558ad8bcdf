// Command list-audit-events is the ListAuditEventsFunction Lambda:
// GET /v1/audit-events.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/flowella/apikeys/shared/adminapi"
	"github.com/flowella/apikeys/shared/audit"
	"github.com/flowella/apikeys/shared/deployconfig"
	"github.com/flowella/apikeys/shared/dynamo"
	"github.com/flowella/apikeys/shared/keystore"
)

func main() {
	ctx := context.Background()
	log := lambdacontext.NewLogger()
	cfg, err := deployconfig.Load(os.Getenv)
	if err != nil || cfg.AuditTable == "" {
		log.Error("configuration", "error", "KEYS_TABLE, ORGS_TABLE and AUDIT_TABLE must be set")
		os.Exit(1)
	}
	db, err := dynamo.New(ctx)
	if err != nil {
		log.Error("dynamodb client", "error", err.Error())
		os.Exit(1)
	}
	slog.SetDefault(log)
	h := &adminapi.Handlers{
		Store: keystore.New(db, cfg.KeysTable, cfg.OrgsTable),
		Audit: audit.Log{DB: db, Table: cfg.AuditTable},
		Log:   log,
	}
	lambda.Start(h.AuditEvents())
}
