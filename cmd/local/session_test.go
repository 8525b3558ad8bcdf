package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSessionParameters(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef-local"
	tests := []struct {
		name    string
		env     map[string]string
		want    map[string]string // "" means absent or empty
		wantErr string
	}{
		{name: "nothing set: the kept secret", env: nil,
			want: map[string]string{"SessionHS256Secret": "<file>", "SessionJwksUrl": ""}},
		{name: "secret from the environment", env: map[string]string{"SESSION_HS256_SECRET": secret},
			want: map[string]string{"SessionHS256Secret": secret}},
		{name: "identity provider", env: map[string]string{
			"SESSION_JWKS_URL": "https://idp.example/.well-known/jwks.json", "SESSION_ISSUER": "https://idp.example/",
			"SESSION_AUDIENCE": "flowella", "SESSION_CLAIM_ORG": "custom:org_id"},
			want: map[string]string{"SessionHS256Secret": "", "SessionJwksUrl": "https://idp.example/.well-known/jwks.json",
				"SessionIssuer": "https://idp.example/", "SessionAudience": "flowella", "SessionClaimOrg": "custom:org_id", "SessionClaimRole": ""}},
		{name: "identity provider without issuer and audience",
			env:     map[string]string{"SESSION_JWKS_URL": "https://idp.example/.well-known/jwks.json"},
			wantErr: "SESSION_JWKS_URL is set but SESSION_ISSUER/SESSION_AUDIENCE are not"},
		{name: "identity provider and a secret",
			env:     map[string]string{"SESSION_JWKS_URL": "https://idp.example/jwks", "SESSION_ISSUER": "i", "SESSION_AUDIENCE": "a", "SESSION_HS256_SECRET": secret},
			wantErr: "not several"},
		{name: "a secret name, which only the Lambda reads",
			env:     map[string]string{"SESSION_HS256_SECRET_NAME": "ssm:/flowella/session"},
			wantErr: "set SESSION_HS256_SECRET instead"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			got, err := sessionParameters(root, func(k string) string { return tt.env[k] }, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range tt.want {
				if want == "<file>" {
					b, err := os.ReadFile(filepath.Join(root, ".local", "session-secret"))
					if err != nil {
						t.Fatal(err)
					}
					want = strings.TrimSpace(string(b))
				}
				if got[k] != want {
					t.Errorf("%s = %q, want %q", k, got[k], want)
				}
			}
		})
	}
}
