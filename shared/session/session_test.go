package session

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

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
	return signHeader(t, method, key, claims, map[string]any{"kid": kid})
}

// signHeader signs claims with extra header fields (an empty string value
// leaves the field out).
func signHeader(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		if v != "" {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// issueHS256 signs p's claims under the default claim names, as the local
// stack's tokens are (local/localsession, which this package cannot import).
func issueHS256(t testing.TB, secret string, p Principal, ttl time.Duration) string {
	t.Helper()
	now := time.Now()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": p.UserID, "org_id": p.OrgID, "role": p.Role, "iat": now.Unix(), "exp": now.Add(ttl).Unix(),
	}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return tok
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
		{"iat now", sign(t, jwt.SigningMethodHS256, []byte(secret), with("iat", time.Now().Unix()), ""), true},
		{"iat within the leeway ahead", sign(t, jwt.SigningMethodHS256, []byte(secret), with("iat", time.Now().Add(10*time.Second).Unix()), ""), true},
		{"iat beyond the leeway ahead", sign(t, jwt.SigningMethodHS256, []byte(secret), with("iat", time.Now().Add(2*time.Minute).Unix()), ""), false},
		{"iat not a number", sign(t, jwt.SigningMethodHS256, []byte(secret), with("iat", "yesterday"), ""), false},
		{"nbf ahead", sign(t, jwt.SigningMethodHS256, []byte(secret), with("nbf", time.Now().Add(time.Hour).Unix()), ""), false},
		{"crit with an unknown extension", signHeader(t, jwt.SigningMethodHS256, []byte(secret), good, map[string]any{"crit": []string{"http://example.com/ext"}, "http://example.com/ext": true}), false},
		{"crit naming a registered claim", signHeader(t, jwt.SigningMethodHS256, []byte(secret), good, map[string]any{"crit": []string{"exp"}}), false},
		{"crit empty", signHeader(t, jwt.SigningMethodHS256, []byte(secret), good, map[string]any{"crit": []string{}}), false},
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
	tok := issueHS256(t, secret, Principal{"u", "o", "owner"}, time.Minute)
	if _, err := v.Verify(tok); err == nil {
		t.Fatal("unconfigured verifier accepted a token")
	}
}

func TestConfigRefused(t *testing.T) {
	read := func(context.Context, string) (string, error) { return secret, nil }
	tests := []struct {
		name string
		cfg  Config
		want string // in the error
	}{
		{"short secret", Config{HS256Secret: "short"}, "at least 32 bytes"},
		{"secret and JWKS", Config{HS256Secret: secret, JWKSURL: "https://idp.example/jwks", Issuer: "i", Audience: "a"}, "not several"},
		{"secret and secret name", Config{HS256Secret: secret, HS256SecretName: "ssm:/s", ReadSecret: read}, "not several"},
		{"secret name and JWKS", Config{HS256SecretName: "ssm:/s", ReadSecret: read, JWKSURL: "https://idp.example/jwks", Issuer: "i", Audience: "a"}, "not several"},
		{"secret name with nothing to read it", Config{HS256SecretName: "ssm:/s"}, "set SESSION_HS256_SECRET instead"},
		{"JWKS without issuer or audience", Config{JWKSURL: "https://idp.example/jwks"}, "SESSION_JWKS_URL is set but SESSION_ISSUER/SESSION_AUDIENCE are not: tokens from any tenant of the identity provider would be accepted; set both"},
		{"JWKS without audience", Config{JWKSURL: "https://idp.example/jwks", Issuer: "https://idp.example/"}, "SESSION_ISSUER/SESSION_AUDIENCE are not"},
		{"JWKS without issuer", Config{JWKSURL: "https://idp.example/jwks", Audience: "dashboard"}, "SESSION_ISSUER/SESSION_AUDIENCE are not"},
		{"JWKS over plain http", Config{JWKSURL: "http://idp.example/jwks", Issuer: "i", Audience: "a"}, "must use https"},
		{"JWKS URL not absolute", Config{JWKSURL: "idp.example/jwks", Issuer: "i", Audience: "a"}, "not an absolute URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewVerifier(context.Background(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one saying %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Fatalf("error shows the secret: %v", err)
			}
		})
	}
}

func TestConfigAccepted(t *testing.T) {
	for _, u := range []string{"https://idp.example/.well-known/jwks.json", "http://127.0.0.1:8080/jwks", "http://localhost/jwks", "http://[::1]:9/jwks"} {
		if err := (Config{JWKSURL: u, Issuer: "i", Audience: "a"}).Validate(); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
}

// The HS256 secret can be read at start from where AWS keeps it; the reader
// is called once, and the secret it returns signs and verifies like one
// given directly.
func TestNamedSecret(t *testing.T) {
	var calls []string
	v, err := NewVerifier(context.Background(), Config{
		HS256SecretName: "ssm:/flowella/session",
		ReadSecret: func(_ context.Context, name string) (string, error) {
			calls = append(calls, name)
			return secret, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	tok := issueHS256(t, secret, Principal{"u_1", "org_a", "admin"}, time.Minute)
	for range 3 {
		if _, err := v.Verify(tok); err != nil {
			t.Fatal(err)
		}
	}
	if len(calls) != 1 || calls[0] != "ssm:/flowella/session" {
		t.Fatalf("reads: %v", calls)
	}

	tests := []struct {
		name string
		read func(context.Context, string) (string, error)
		want string
	}{
		{"read fails", func(context.Context, string) (string, error) { return "", errors.New("AccessDeniedException") }, "AccessDeniedException"},
		{"stored secret too short", func(context.Context, string) (string, error) { return "short", nil }, "at least 32 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewVerifier(context.Background(), Config{HS256SecretName: "secretsmanager:flowella/session", ReadSecret: tt.read})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "secretsmanager:flowella/session") {
				t.Fatalf("err = %v, want one naming the secret and saying %q", err, tt.want)
			}
		})
	}
}
