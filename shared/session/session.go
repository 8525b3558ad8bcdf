// Package session verifies Flowella session tokens: JWTs signed with HS256
// (a shared secret) or RS256/ES256 (keys from a JWKS URL), carrying the user
// id, organisation id and role under configurable claim names.
package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

// Roles a session may carry.
const (
	RoleOwner    = "owner"
	RoleAdmin    = "admin"
	RoleMember   = "member"
	RoleReadOnly = "read_only"
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
	JWKSURL     string // RS256/ES256 through this JWKS when set
	Issuer      string // checked when set
	Audience    string // checked when set
	ClaimUser   string // default "sub"
	ClaimOrg    string // default "org_id"
	ClaimRole   string // default "role"
}

// ConfigFromEnv reads the SESSION_* variables through getenv (os.Getenv in
// Lambda; the template's environment in the local stack).
func ConfigFromEnv(getenv func(string) string) Config {
	return Config{
		HS256Secret: getenv("SESSION_HS256_SECRET"),
		JWKSURL:     getenv("SESSION_JWKS_URL"),
		Issuer:      getenv("SESSION_ISSUER"),
		Audience:    getenv("SESSION_AUDIENCE"),
		ClaimUser:   getenv("SESSION_CLAIM_USER"),
		ClaimOrg:    getenv("SESSION_CLAIM_ORG"),
		ClaimRole:   getenv("SESSION_CLAIM_ROLE"),
	}
}

// Verifier checks tokens. Build one per process: a JWKS verifier keeps the
// key set fresh in the background.
type Verifier struct {
	cfg     Config
	keyfunc jwt.Keyfunc
	methods []string
}

// NewVerifier builds a verifier. With neither a secret nor a JWKS URL every
// token is refused, which is the safe default.
func NewVerifier(ctx context.Context, cfg Config) (*Verifier, error) {
	if cfg.ClaimUser == "" {
		cfg.ClaimUser = "sub"
	}
	if cfg.ClaimOrg == "" {
		cfg.ClaimOrg = "org_id"
	}
	if cfg.ClaimRole == "" {
		cfg.ClaimRole = "role"
	}
	v := &Verifier{cfg: cfg}
	switch {
	case cfg.HS256Secret != "" && cfg.JWKSURL != "":
		return nil, errors.New("session config: set SESSION_HS256_SECRET or SESSION_JWKS_URL, not both")
	case cfg.HS256Secret != "":
		if len(cfg.HS256Secret) < 32 {
			return nil, errors.New("session config: SESSION_HS256_SECRET must be at least 32 bytes")
		}
		secret := []byte(cfg.HS256Secret)
		v.keyfunc = func(*jwt.Token) (any, error) { return secret, nil }
		v.methods = []string{"HS256"}
	case cfg.JWKSURL != "":
		kf, err := keyfunc.NewDefaultCtx(ctx, []string{cfg.JWKSURL})
		if err != nil {
			return nil, fmt.Errorf("session config: jwks %s: %w", cfg.JWKSURL, err)
		}
		v.keyfunc = kf.Keyfunc
		v.methods = []string{"RS256", "ES256"}
	}
	return v, nil
}

// LooksLikeJWT reports whether token has the three-part shape of a JWT.
func LooksLikeJWT(token string) bool {
	return strings.Count(token, ".") == 2 && !strings.ContainsAny(token, " \t")
}

// Verify checks signature, algorithm, exp (required), iss and aud (when
// configured) and the three identity claims.
func (v *Verifier) Verify(token string) (Principal, error) {
	if v.keyfunc == nil {
		return Principal{}, fmt.Errorf("%w: no session verification configured", ErrInvalid)
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(v.methods),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(30 * time.Second),
	}
	if v.cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(v.cfg.Issuer))
	}
	if v.cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(v.cfg.Audience))
	}
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(token, claims, v.keyfunc, opts...); err != nil {
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
	switch p.Role {
	case RoleOwner, RoleAdmin, RoleMember, RoleReadOnly:
	default:
		return Principal{}, fmt.Errorf("%w: unknown role %q", ErrInvalid, p.Role)
	}
	return p, nil
}

func stringClaim(c jwt.MapClaims, name string) string {
	s, _ := c[name].(string)
	return s
}

// IssueHS256 signs a session token; the local stack's `make token` uses it.
func IssueHS256(secret string, p Principal, ttl time.Duration, issuer, audience string) (string, error) {
	now := time.Now()
	claims := jwt.MapClaims{
		"sub":    p.UserID,
		"org_id": p.OrgID,
		"role":   p.Role,
		"iat":    now.Unix(),
		"exp":    now.Add(ttl).Unix(),
	}
	if issuer != "" {
		claims["iss"] = issuer
	}
	if audience != "" {
		claims["aud"] = audience
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
}

// LoadOrCreateSecret reads the HS256 secret kept in path, creating it (32
// random bytes, hex, mode 0600) when it does not exist, so that `make token`
// and the local stack agree without any setup.
func LoadOrCreateSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(b))) >= 32 {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read session secret: %w", err)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	secret := hex.EncodeToString(raw[:])
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write session secret: %w", err)
	}
	return secret, nil
}
