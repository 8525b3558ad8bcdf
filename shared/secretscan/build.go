package secretscan

import (
	"context"

	"github.com/flowella/apikeys/shared/deployconfig"
	"github.com/flowella/apikeys/shared/lambdafn"
)

// Build builds SecretScanningFunction: the key store on KEYS_TABLE and
// ORGS_TABLE, and GitHub's public keys from SECRET_SCANNING_KEYS_URL
// (GitHubKeysURL when empty), fetched when the first report arrives.
func Build(_ context.Context, env lambdafn.Env) (any, error) {
	fn, err := deployconfig.For(env)
	if err != nil {
		return nil, err
	}
	h, err := New(fn, env.Getenv("SECRET_SCANNING_KEYS_URL"))
	if err != nil {
		return nil, err
	}
	return h.Handle, nil
}
