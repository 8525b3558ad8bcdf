package authorizer

import (
	"context"

	"github.com/flowella/apikeys/shared/deployconfig"
	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/lambdafn"
	"github.com/flowella/apikeys/shared/secretsource"
	"github.com/flowella/apikeys/shared/session"
)

// Build builds AuthorizerFunction: the key store on KEYS_TABLE and
// ORGS_TABLE, and the session verifier from the SESSION_* variables. A
// secret named by SESSION_HS256_SECRET_NAME is read from SSM or Secrets
// Manager here, once; a JWKS verifier keeps the key set fresh in the
// background until ctx ends.
func Build(ctx context.Context, env lambdafn.Env) (any, error) {
	fn, err := deployconfig.For(env)
	if err != nil {
		return nil, err
	}
	sessionCfg := session.ConfigFromEnv(env.Getenv)
	sessionCfg.ReadSecret = secretsource.New(env.AWS).Read
	sessions, err := session.NewVerifier(ctx, sessionCfg)
	if err != nil {
		return nil, err
	}
	store := keystore.New(fn.DB, fn.KeysTable, fn.OrgsTable)
	return New(Config{Keys: store, Orgs: store, Catalog: fn.Catalog, Sessions: sessions, Env: fn.KeyEnv, Log: fn.Log}), nil
}
