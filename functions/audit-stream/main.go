// Command audit-stream is the AuditFunction Lambda: it turns the keys
// table's stream into audit records.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/flowella/apikeys/shared/audit"
	"github.com/flowella/apikeys/shared/dynamo"
)

func main() {
	log := lambdacontext.NewLogger()
	table := os.Getenv("AUDIT_TABLE")
	if table == "" {
		log.Error("configuration", "error", "AUDIT_TABLE must be set")
		os.Exit(1)
	}
	db, err := dynamo.New(context.Background())
	if err != nil {
		log.Error("dynamodb client", "error", err.Error())
		os.Exit(1)
	}
	slog.SetDefault(log)
	h := &audit.Handler{DB: db, Table: table, Log: log}
	lambda.Start(h.Handle)
}
