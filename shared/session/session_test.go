package session

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

const secret = "0123456789abcdef0123456789abcdef-test"

func hsVerifier(t *testing.T, cfg Config) *Verifier {
	t.Helper()
	cfg.HS256Secret = secret
	v, err := NewVerifier(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims, kid string) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestHS256(t *testing.T) {
	v := hsVerifier(t, Config{Issuer: "flowella", Audience: "dashboard"})
	exp := time.Now().Add(time.Hour).Unix()
	good := jwt.MapClaims{"sub": "u_1", "org_id": "org_a", "role": "admin", "exp": exp, "iss": "flowella", "aud": "dashboard"}
	with := func(k string, val any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for kk, vv := range good {
			c[kk] = vv
		}
		if val == nil {
			delete(c, k)
		} else {
			c[k] = val
		}
		return c
	}
	tests := []struct {
		name  string
		token string
		ok    bool
	}{
		{"valid", sign(t, jwt.SigningMethodHS256, []byte(secret), good, ""), true},
		{"wrong secret", sign(t, jwt.SigningMethodHS256, []byte(secret+"x"), good, ""), false},
		{"HS512 not allowed", sign(t, jwt.SigningMethodHS512, []byte(secret), good, ""), false},
		{"none alg", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, good, ""), false},
		{"expired", sign(t, jwt.SigningMethodHS256, []byte(secret), with("exp", time.Now().Add(-time.Hour).Unix()), ""), false},
		{"no exp", sign(t, jwt.SigningMethodHS256, []byte(secret), with("exp", nil), ""), false},
		{"wrong issuer", sign(t, jwt.SigningMethodHS256, []byte(secret), with("iss", "evil"), ""), false},
		{"wrong audience", sign(t, jwt.SigningMethodHS256, []byte(secret), with("aud", "other"), ""), false},
		{"no org", sign(t, jwt.SigningMethodHS256, []byte(secret), with("org_id", nil), ""), false},
		{"unknown role", sign(t, jwt.SigningMethodHS256, []byte(secret), with("role", "root"), ""), false},
		{"garbage", "a.b.c", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := v.Verify(tt.token)
			if tt.ok != (err == nil) {
				t.Fatalf("Verify err = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			if tt.ok && (p != Principal{UserID: "u_1", OrgID: "org_a", Role: "admin"}) {
				t.Fatalf("principal %+v", p)
			}
		})
	}
}

func TestClaimNamesConfigurable(t *testing.T) {
	v := hsVerifier(t, Config{ClaimOrg: "custom:org_id", ClaimRole: "custom:role"})
	tok := sign(t, jwt.SigningMethodHS256, []byte(secret), jwt.MapClaims{
		"sub": "u_9", "custom:org_id": "org_c", "custom:role": "owner", "exp": time.Now().Add(time.Minute).Unix(),
	}, "")
	p, err := v.Verify(tok)
	if err != nil || p.OrgID != "org_c" || p.Role != "owner" {
		t.Fatalf("p=%+v err=%v", p, err)
	}
}

func TestNoConfigRefusesEverything(t *testing.T) {
	v, err := NewVerifier(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := IssueHS256(secret, Principal{"u", "o", "owner"}, time.Minute, "", "")
	if _, err := v.Verify(tok); err == nil {
		t.Fatal("unconfigured verifier accepted a token")
	}
}

func TestShortSecretRefused(t *testing.T) {
	if _, err := NewVerifier(context.Background(), Config{HS256Secret: "short"}); err == nil {
		t.Fatal("short secret accepted")
	}
}

// The JWKS path is exercised against a key set served on loopback, as Cognito,
// Auth0 or Okta would serve theirs.
func TestJWKS(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherRSA, _ := rsa.GenerateKey(rand.Reader, 2048)

	set := jwkset.NewMemoryStorage()
	for kid, pub := range map[string]any{"rsa-1": &rsaKey.PublicKey, "ec-1": &ecKey.PublicKey} {
		jwk, err := jwkset.NewJWKFromKey(pub, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: kid}})
		if err != nil {
			t.Fatal(err)
		}
		if err := set.KeyWrite(context.Background(), jwk); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := set.JSONPublic(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(json.RawMessage(raw))
	}))
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := NewVerifier(ctx, Config{JWKSURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{"sub": "u_1", "org_id": "org_a", "role": "owner", "exp": time.Now().Add(time.Hour).Unix()}
	tests := []struct {
		name  string
		token string
		ok    bool
	}{
		{"RS256", sign(t, jwt.SigningMethodRS256, rsaKey, claims, "rsa-1"), true},
		{"ES256", sign(t, jwt.SigningMethodES256, ecKey, claims, "ec-1"), true},
		{"RS256 unknown signer", sign(t, jwt.SigningMethodRS256, otherRSA, claims, "rsa-1"), false},
		{"unknown kid", sign(t, jwt.SigningMethodRS256, rsaKey, claims, "nope"), false},
		{"HS256 with a public key as secret", sign(t, jwt.SigningMethodHS256, []byte("rsa-1"), claims, "rsa-1"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(tt.token)
			if tt.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}
