package activity

import (
	"context"

	"github.com/flowella/apikeys/shared/lambdafn"
)

// Build builds KeyActivityFunction: the access log's and the authorizer's
// lines, delivered by CloudWatch Logs subscription filters, into
// ACTIVITY_TABLE (ACTIVITY_RETENTION_DAYS: how long they are kept).
func Build(_ context.Context, env lambdafn.Env) (any, error) {
	cfg, err := ConfigFromEnv(env.Getenv)
	if err != nil {
		return nil, err
	}
	return NewHandler(cfg, env.DB, env.Log).Handle, nil
}
