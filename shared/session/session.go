// Package session verifies Flowella session tokens: JWTs signed with HS256
// (a shared secret) or RS256/ES256 (keys from a JWKS URL), carrying the user
// id, organisation id and role under configurable claim names.
package session

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/flowella/apikeys/shared/principal"
)

// Roles a session may carry; package principal owns them.
const (
	RoleOwner    = principal.RoleOwner
	RoleAdmin    = principal.RoleAdmin
	RoleMember   = principal.RoleMember
	RoleReadOnly = principal.RoleReadOnly
)

// ErrInvalid covers every reason a token is refused; the reason is wrapped
// for logs and never contains the token.
var ErrInvalid = errors.New("invalid session token")

// Principal is the signed-in user a token speaks for.
type Principal struct {
	UserID string
	OrgID  string
	Role   string
}

// Config says how tokens are checked.
type Config struct {
	HS256Secret string // HS256 when set
	// HS256SecretName says where the secret is kept in AWS (ssm:/path or
	// secretsmanager:name); NewVerifier reads it once through ReadSecret, so
	// the secret never sits in the function's environment.
	HS256SecretName string
	ReadSecret      func(ctx context.Context, name string) (string, error)
	JWKSURL         string // RS256/ES256 through this JWKS when set
	Issuer          string // checked when set; required with a JWKS
	Audience        string // checked when set; required with a JWKS
	ClaimUser       string // default "sub"
	ClaimOrg        string // default "org_id"
	ClaimRole       string // default "role"

	jwks jwksTiming // zero: the production defaults; tests shorten it
}

// ConfigFromEnv reads the SESSION_* variables through getenv (os.Getenv in
// Lambda; the template's environment in the local stack).
func ConfigFromEnv(getenv func(string) string) Config {
	return Config{
		HS256Secret:     getenv("SESSION_HS256_SECRET"),
		HS256SecretName: getenv("SESSION_HS256_SECRET_NAME"),
		JWKSURL:         getenv("SESSION_JWKS_URL"),
		Issuer:          getenv("SESSION_ISSUER"),
		Audience:        getenv("SESSION_AUDIENCE"),
		ClaimUser:       getenv("SESSION_CLAIM_USER"),
		ClaimOrg:        getenv("SESSION_CLAIM_ORG"),
		ClaimRole:       getenv("SESSION_CLAIM_ROLE"),
	}
}

// Validate refuses a configuration that is ambiguous or unsafe, without any
// I/O, so a bad deployment fails at start rather than on a request.
func (c Config) Validate() error {
	sources := 0
	for _, set := range []bool{c.HS256Secret != "", c.HS256SecretName != "", c.JWKSURL != ""} {
		if set {
			sources++
		}
	}
	if sources > 1 {
		return errors.New("session config: set one of SESSION_HS256_SECRET, SESSION_HS256_SECRET_NAME and SESSION_JWKS_URL, not several")
	}
	if c.HS256Secret != "" && len(c.HS256Secret) < minSecretLen {
		return errors.New("session config: SESSION_HS256_SECRET must be at least 32 bytes")
	}
	if c.HS256SecretName != "" && c.ReadSecret == nil {
		return fmt.Errorf("session config: SESSION_HS256_SECRET_NAME is %s but nothing here reads it (only the Lambda reads SSM or Secrets Manager); set SESSION_HS256_SECRET instead", c.HS256SecretName)
	}
	if c.JWKSURL != "" {
		// An identity provider signs the tokens of all its tenants and
		// applications with the same keys: only iss and aud tell ours apart.
		if c.Issuer == "" || c.Audience == "" {
			return errors.New("session config: SESSION_JWKS_URL is set but SESSION_ISSUER/SESSION_AUDIENCE are not: tokens from any tenant of the identity provider would be accepted; set both")
		}
		if err := checkJWKSURL(c.JWKSURL); err != nil {
			return err
		}
	}
	return nil
}

const minSecretLen = 32

// Verifier checks tokens. Build one per process: a JWKS verifier keeps the
// key set fresh in the background.
type Verifier struct {
	cfg     Config
	keyfunc jwt.Keyfunc
	methods []string
}

// NewVerifier builds a verifier. With neither a secret nor a JWKS URL every
// token is refused, which is the safe default. A named secret is read here,
// once; a JWKS is fetched here and then refreshed in the background until ctx
// ends.
func NewVerifier(ctx context.Context, cfg Config) (*Verifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.ClaimUser == "" {
		cfg.ClaimUser = "sub"
	}
	if cfg.ClaimOrg == "" {
		cfg.ClaimOrg = "org_id"
	}
	if cfg.ClaimRole == "" {
		cfg.ClaimRole = "role"
	}
	if cfg.HS256SecretName != "" {
		secret, err := cfg.ReadSecret(ctx, cfg.HS256SecretName)
		if err != nil {
			return nil, fmt.Errorf("session config: read SESSION_HS256_SECRET_NAME %s: %w", cfg.HS256SecretName, err)
		}
		if len(secret) < minSecretLen {
			return nil, fmt.Errorf("session config: the secret in %s must be at least 32 bytes", cfg.HS256SecretName)
		}
		cfg.HS256Secret = secret
	}
	v := &Verifier{cfg: cfg}
	switch {
	case cfg.HS256Secret != "":
		secret := []byte(cfg.HS256Secret)
		v.keyfunc = func(*jwt.Token) (any, error) { return secret, nil }
		v.methods = []string{"HS256"}
	case cfg.JWKSURL != "":
		kf, err := newJWKSKeyfunc(ctx, cfg.JWKSURL, cfg.jwks)
		if err != nil {
			return nil, fmt.Errorf("session config: jwks %s: %w", cfg.JWKSURL, err)
		}
		v.keyfunc = kf
		v.methods = []string{"RS256", "ES256"}
	}
	return v, nil
}

// LooksLikeJWT reports whether token has the three-part shape of a JWT.
func LooksLikeJWT(token string) bool {
	return strings.Count(token, ".") == 2 && !strings.ContainsAny(token, " \t")
}

// leeway absorbs clock skew between the token's issuer and this process, for
// exp, nbf and iat alike.
const leeway = 30 * time.Second

// Verify checks signature, algorithm, exp (required), nbf and iat (not in the
// future), iss and aud (when configured), that the token demands no extension
// (crit), and the three identity claims.
func (v *Verifier) Verify(token string) (Principal, error) {
	if v.keyfunc == nil {
		return Principal{}, fmt.Errorf("%w: no session verification configured", ErrInvalid)
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(v.methods),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
	}
	if v.cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(v.cfg.Issuer))
	}
	if v.cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(v.cfg.Audience))
	}
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(token, claims, v.key, opts...); err != nil {
		return Principal{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	p := Principal{
		UserID: stringClaim(claims, v.cfg.ClaimUser),
		OrgID:  stringClaim(claims, v.cfg.ClaimOrg),
		Role:   stringClaim(claims, v.cfg.ClaimRole),
	}
	if p.UserID == "" || p.OrgID == "" || p.Role == "" {
		return Principal{}, fmt.Errorf("%w: claims %s, %s and %s are required", ErrInvalid, v.cfg.ClaimUser, v.cfg.ClaimOrg, v.cfg.ClaimRole)
	}
	if !principal.KnownRole(p.Role) {
		return Principal{}, fmt.Errorf("%w: unknown role %q", ErrInvalid, p.Role)
	}
	return p, nil
}

// key refuses, before any key lookup, a token whose crit header names
// extensions it must understand: this verifier understands none (RFC 7515,
// 4.1.11), and golang-jwt does not check crit itself.
func (v *Verifier) key(t *jwt.Token) (any, error) {
	if _, ok := t.Header["crit"]; ok {
		return nil, errors.New(`header "crit" names extensions this verifier does not understand`)
	}
	return v.keyfunc(t)
}

func stringClaim(c jwt.MapClaims, name string) string {
	s, _ := c[name].(string)
	return s
}
