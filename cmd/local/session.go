package main

import (
	"log/slog"
	"maps"
	"path/filepath"

	"github.com/flowella/apikeys/local/localsession"
	"github.com/flowella/apikeys/shared/session"
)

// sessionParameters gives the template's Session* parameters from this
// process's SESSION_* variables: with SESSION_JWKS_URL, an identity
// provider's key set (issuer and audience required); otherwise the HS256
// secret of SESSION_HS256_SECRET or the one kept in .local/session-secret,
// which `make token` signs with. A configuration the authorizer would refuse
// is refused here, before DynamoDB Local starts.
func sessionParameters(root string, getenv func(string) string, log *slog.Logger) (map[string]string, error) {
	cfg := session.ConfigFromEnv(getenv)
	if cfg.JWKSURL == "" && cfg.HS256Secret == "" && cfg.HS256SecretName == "" {
		secret, err := localsession.LoadOrCreateSecret(filepath.Join(root, ".local", "session-secret"))
		if err != nil {
			return nil, err
		}
		cfg.HS256Secret = secret
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	params := map[string]string{
		"SessionHS256Secret": cfg.HS256Secret,
		"SessionJwksUrl":     cfg.JWKSURL,
		"SessionIssuer":      cfg.Issuer,
		"SessionAudience":    cfg.Audience,
	}
	// Unset claim names keep the template's defaults.
	for param, v := range map[string]string{"SessionClaimUser": cfg.ClaimUser, "SessionClaimOrg": cfg.ClaimOrg, "SessionClaimRole": cfg.ClaimRole} {
		if v != "" {
			params[param] = v
		}
	}
	if cfg.JWKSURL != "" {
		log.Info("session tokens: your identity provider's (make token's HS256 tokens are refused)",
			"jwks", cfg.JWKSURL, "issuer", cfg.Issuer, "audience", cfg.Audience)
	}
	return params, nil
}

// withParameters returns the session parameters and the others in one map.
func withParameters(sessionParams, others map[string]string) map[string]string {
	out := maps.Clone(sessionParams)
	maps.Copy(out, others)
	return out
}
