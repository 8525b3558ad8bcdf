// Package localstack runs the whole system on one machine: it reads
// template.yaml for tables, routes, the authorizer and stream wiring, builds
// each function's handler with the environment the template gives it, and
// serves them through the local API Gateway.
package localstack

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/flowella/apikeys/shared/activity"
	"github.com/flowella/apikeys/shared/adminapi"
	"github.com/flowella/apikeys/shared/audit"
	"github.com/flowella/apikeys/shared/authorizer"
	"github.com/flowella/apikeys/shared/deployconfig"
	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/secretscan"
	"github.com/flowella/apikeys/shared/session"
	"github.com/flowella/apikeys/shared/whoami"
)

// Deps are the clients a function is built with, as its main.go builds
// them once per process.
type Deps struct {
	// DB is the function's own DynamoDB client: the stack's client, held to
	// the function's role in template.yaml (local/localiam).
	DB *dynamodb.Client
	// Log is the function's logger: slog's default, and its log group when
	// a subscription filter reads that (logs.go).
	Log *slog.Logger
}

// builder constructs a function's handler from its environment, as its
// functions/<name>/main.go does from the process environment.
type builder func(ctx context.Context, getenv func(string) string, d Deps) (any, error)

// builders maps the template's function logical ids to their code.
var builders = map[string]builder{
	"AuthorizerFunction": func(ctx context.Context, getenv func(string) string, d Deps) (any, error) {
		cfg, err := deployconfig.Load(getenv)
		if err != nil {
			return nil, err
		}
		sessions, err := session.NewVerifier(ctx, session.ConfigFromEnv(getenv))
		if err != nil {
			return nil, err
		}
		store := keystore.New(d.DB, cfg.KeysTable, cfg.OrgsTable)
		return authorizer.New(authorizer.Config{Keys: store, Orgs: store, Catalog: cfg.Catalog,
			Sessions: sessions, Env: cfg.KeyEnv, Log: d.Log}).Handle, nil
	},
	"WhoamiFunction": func(context.Context, func(string) string, Deps) (any, error) {
		return whoami.Handle, nil
	},
	"CreateKeyFunction":       admin(func(h *adminapi.Handlers) any { return h.Create() }),
	"ListKeysFunction":        admin(func(h *adminapi.Handlers) any { return h.List() }),
	"GetKeyFunction":          admin(func(h *adminapi.Handlers) any { return h.Get() }),
	"UpdateKeyFunction":       admin(func(h *adminapi.Handlers) any { return h.Update() }),
	"RevokeKeyFunction":       admin(func(h *adminapi.Handlers) any { return h.Revoke() }),
	"RollKeyFunction":         admin(func(h *adminapi.Handlers) any { return h.Roll() }),
	"ListAuditEventsFunction": admin(func(h *adminapi.Handlers) any { return h.AuditEvents() }),
	"ListKeyActivityFunction": admin(func(h *adminapi.Handlers) any { return h.KeyActivity() }),
	"GetKeyUsageFunction":     admin(func(h *adminapi.Handlers) any { return h.KeyUsage() }),
	"GetKeyExposureFunction":  admin(func(h *adminapi.Handlers) any { return h.KeyExposure() }),
	"KeyActivityFunction": func(_ context.Context, getenv func(string) string, d Deps) (any, error) {
		cfg, err := activity.ConfigFromEnv(getenv)
		if err != nil {
			return nil, err
		}
		return activity.NewHandler(cfg, d.DB, d.Log).Handle, nil
	},
	"SecretScanningFunction": func(_ context.Context, getenv func(string) string, d Deps) (any, error) {
		cfg, err := deployconfig.Load(getenv)
		if err != nil {
			return nil, err
		}
		h, err := secretscan.New(deployconfig.Function{Config: cfg, DB: d.DB, Log: slog.Default()}, getenv("SECRET_SCANNING_KEYS_URL"))
		if err != nil {
			return nil, err
		}
		return h.Handle, nil
	},
	"AuditFunction": func(_ context.Context, getenv func(string) string, d Deps) (any, error) {
		return (&audit.Handler{DB: d.DB, Table: getenv("AUDIT_TABLE")}).Handle, nil
	},
}

func admin(endpoint func(*adminapi.Handlers) any) builder {
	return func(_ context.Context, getenv func(string) string, d Deps) (any, error) {
		cfg, err := deployconfig.Load(getenv)
		if err != nil {
			return nil, err
		}
		return endpoint(adminapi.New(deployconfig.Function{Config: cfg, DB: d.DB, Log: slog.Default()})), nil
	}
}

func build(ctx context.Context, fn string, getenv func(string) string, d Deps) (any, error) {
	b, ok := builders[fn]
	if !ok {
		return nil, fmt.Errorf("template function %s has no local builder in localstack", fn)
	}
	h, err := b(ctx, getenv, d)
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", fn, err)
	}
	return h, nil
}
