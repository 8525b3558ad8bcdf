// Package deployconfig reads the settings the key-store functions share from
// their environment, as template.yaml sets them (or the local stack, from the
// same template).
package deployconfig

import (
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/flowella/apikeys/shared/apikey"
	"github.com/flowella/apikeys/shared/authz"
	"github.com/flowella/apikeys/shared/lambdafn"
)

// The tables only some functions have; Load reads one only when asked.
const (
	AuditTable       = "AUDIT_TABLE"
	IdempotencyTable = "IDEMPOTENCY_TABLE"
	ActivityTable    = "ACTIVITY_TABLE"
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

// Load reads, through getenv, KEYS_TABLE and ORGS_TABLE, KEY_ENVIRONMENT and
// the scope catalog (AUTHZ_CONFIG_FILE or the built-in one), and the tables
// named in also (AuditTable, IdempotencyTable, ActivityTable). Every table
// it reads is required: a function asks for exactly the tables its template
// entry gives it, and reads no other.
func Load(getenv func(string) string, also ...string) (Config, error) {
	env, err := apikey.ParseEnv(getenv("KEY_ENVIRONMENT"))
	if err != nil {
		return Config{}, fmt.Errorf("KEY_ENVIRONMENT: %w", err)
	}
	catalog, err := authz.LoadFile(getenv("AUTHZ_CONFIG_FILE"))
	if err != nil {
		return Config{}, err
	}
	c := Config{KeyEnv: env, Catalog: catalog}
	optional := map[string]*string{AuditTable: &c.AuditTable, IdempotencyTable: &c.IdempotencyTable, ActivityTable: &c.ActivityTable}
	fields := []*string{&c.KeysTable, &c.OrgsTable}
	for _, name := range also {
		f, ok := optional[name]
		if !ok {
			return Config{}, fmt.Errorf("deployconfig: %q is not one of the optional tables", name)
		}
		fields = append(fields, f)
	}
	tables, err := lambdafn.Env{Getenv: getenv}.Required(append([]string{"KEYS_TABLE", "ORGS_TABLE"}, also...)...)
	if err != nil {
		return Config{}, err
	}
	for i, f := range fields {
		*f = tables[i]
	}
	return c, nil
}

// Function is what a key-store function is built from: its configuration,
// its logger and its DynamoDB client.
type Function struct {
	Config
	Log *slog.Logger
	DB  *dynamodb.Client
}

// For reads a function's configuration from env (see Load) and pairs it
// with env's logger and DynamoDB client.
func For(env lambdafn.Env, also ...string) (Function, error) {
	cfg, err := Load(env.Getenv, also...)
	if err != nil {
		return Function{}, err
	}
	return Function{Config: cfg, Log: env.Log, DB: env.DB}, nil
}
