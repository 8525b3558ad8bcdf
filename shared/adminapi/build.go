package adminapi

import (
	"context"

	"github.com/flowella/apikeys/shared/deployconfig"
	"github.com/flowella/apikeys/shared/lambdafn"
)

// The builders of the admin functions, one per endpoint: each reads the
// tables its template.yaml entry gives it (all required) and serves its
// endpoint. functions/<name>/main.go and the local stack both use them.

// BuildCreateKey builds CreateKeyFunction (POST /v1/api-keys).
func BuildCreateKey(_ context.Context, env lambdafn.Env) (any, error) {
	return build(env, (*Handlers).Create, deployconfig.IdempotencyTable)
}

// BuildListKeys builds ListKeysFunction (GET /v1/api-keys).
func BuildListKeys(_ context.Context, env lambdafn.Env) (any, error) {
	return build(env, (*Handlers).List)
}

// BuildGetKey builds GetKeyFunction (GET /v1/api-keys/{id}).
func BuildGetKey(_ context.Context, env lambdafn.Env) (any, error) {
	return build(env, (*Handlers).Get)
}

// BuildUpdateKey builds UpdateKeyFunction (PATCH /v1/api-keys/{id}).
func BuildUpdateKey(_ context.Context, env lambdafn.Env) (any, error) {
	return build(env, (*Handlers).Update)
}

// BuildRevokeKey builds RevokeKeyFunction (POST /v1/api-keys/{id}/revoke).
func BuildRevokeKey(_ context.Context, env lambdafn.Env) (any, error) {
	return build(env, (*Handlers).Revoke)
}

// BuildRollKey builds RollKeyFunction (POST /v1/api-keys/{id}/roll).
func BuildRollKey(_ context.Context, env lambdafn.Env) (any, error) {
	return build(env, (*Handlers).Roll, deployconfig.IdempotencyTable)
}

// BuildListAuditEvents builds ListAuditEventsFunction (GET /v1/audit-events).
func BuildListAuditEvents(_ context.Context, env lambdafn.Env) (any, error) {
	return build(env, (*Handlers).AuditEvents, deployconfig.AuditTable)
}

// BuildListKeyActivity builds ListKeyActivityFunction (GET
// /v1/api-keys/{id}/activity).
func BuildListKeyActivity(_ context.Context, env lambdafn.Env) (any, error) {
	return build(env, (*Handlers).KeyActivity, deployconfig.ActivityTable)
}

// BuildGetKeyUsage builds GetKeyUsageFunction (GET /v1/api-keys/{id}/usage).
func BuildGetKeyUsage(_ context.Context, env lambdafn.Env) (any, error) {
	return build(env, (*Handlers).KeyUsage, deployconfig.ActivityTable)
}

// BuildGetKeyExposure builds GetKeyExposureFunction (GET
// /v1/api-keys/{id}/exposure).
func BuildGetKeyExposure(_ context.Context, env lambdafn.Env) (any, error) {
	return build(env, (*Handlers).KeyExposure, deployconfig.ActivityTable)
}

func build(env lambdafn.Env, endpoint func(*Handlers) Proxy, tables ...string) (any, error) {
	fn, err := deployconfig.For(env, tables...)
	if err != nil {
		return nil, err
	}
	return endpoint(New(fn)), nil
}
