// Package deployconfig reads the settings every function shares from its
// environment, as template.yaml sets them (or the local stack, from the same
// template).
package deployconfig

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/flowella/apikeys/shared/dynamo"

	"github.com/flowella/apikeys/shared/apikey"
	"github.com/flowella/apikeys/shared/authz"
)

// Config is a function's shared configuration.
type Config struct {
	KeysTable  string
	OrgsTable  string
	AuditTable string
	// IdempotencyTable holds Idempotency-Key records; only the create and
	// roll functions have it.
	IdempotencyTable string
	// ActivityTable holds key activity; only the key activity endpoints
	// have it.
	ActivityTable string
	KeyEnv        apikey.Env
	Catalog       *authz.Catalog
}

// Load reads KEYS_TABLE, ORGS_TABLE, AUDIT_TABLE, IDEMPOTENCY_TABLE,
// ACTIVITY_TABLE, KEY_ENVIRONMENT and the scope catalog (AUTHZ_CONFIG_FILE
// or the built-in one) through getenv. Only the two key tables are required.
func Load(getenv func(string) string) (Config, error) {
	env, err := apikey.ParseEnv(getenv("KEY_ENVIRONMENT"))
	if err != nil {
		return Config{}, fmt.Errorf("KEY_ENVIRONMENT: %w", err)
	}
	catalog, err := authz.LoadFile(getenv("AUTHZ_CONFIG_FILE"))
	if err != nil {
		return Config{}, err
	}
	c := Config{
		KeysTable:        getenv("KEYS_TABLE"),
		OrgsTable:        getenv("ORGS_TABLE"),
		AuditTable:       getenv("AUDIT_TABLE"),
		IdempotencyTable: getenv("IDEMPOTENCY_TABLE"),
		ActivityTable:    getenv("ACTIVITY_TABLE"),
		KeyEnv:           env,
		Catalog:          catalog,
	}
	if c.KeysTable == "" || c.OrgsTable == "" {
		return Config{}, errors.New("KEYS_TABLE and ORGS_TABLE must be set")
	}
	return c, nil
}

// Function is what a function's main builds once per process: its
// configuration, its logger and its DynamoDB client.
type Function struct {
	Config
	Log *slog.Logger
	DB  *dynamodb.Client
}

// FromEnv reads the process environment, sets up the Lambda logger (JSON,
// with the request id) as the default, and builds the DynamoDB client. On
// error Log is still usable, so main can report it.
func FromEnv(ctx context.Context) (Function, error) {
	f := Function{Log: lambdacontext.NewLogger()}
	slog.SetDefault(f.Log)
	cfg, err := Load(os.Getenv)
	if err != nil {
		return f, err
	}
	f.Config = cfg
	if f.DB, err = dynamo.New(ctx); err != nil {
		return f, err
	}
	return f, nil
}
