// Package localsession mints session tokens on this machine: the HS256 secret
// shared by `make run`, `make token` and the tests, and tokens signed with it.
// It is local-only, so no Lambda links it; the deployed side only verifies
// (shared/session).
package localsession

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/flowella/apikeys/shared/session"
)

// IssueHS256 signs a session token for p with the claim names session's
// verifier reads by default; issuer and audience are set when not empty.
func IssueHS256(secret string, p session.Principal, ttl time.Duration, issuer, audience string) (string, error) {
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

// minSecretLen matches what session.Config.Validate accepts.
const minSecretLen = 32

// LoadOrCreateSecret reads the HS256 secret kept in path, creating it (32
// random bytes, hex, mode 0600) when it does not exist, so that `make token`
// and the local stack agree without any setup.
func LoadOrCreateSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(b))) >= minSecretLen {
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
