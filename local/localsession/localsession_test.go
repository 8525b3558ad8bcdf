package localsession

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/flowella/apikeys/shared/session"
)

// A minted token is one the deployed verifier accepts, with the issuer and
// audience it checks, and one it refuses once they differ.
func TestIssueHS256VerifiesWithSession(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef-local"
	p := session.Principal{UserID: "u_1", OrgID: "org_a", Role: session.RoleAdmin}
	v, err := session.NewVerifier(context.Background(), session.Config{HS256Secret: secret, Issuer: "flowella", Audience: "dashboard"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := IssueHS256(secret, p, time.Minute, "flowella", "dashboard")
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.Verify(tok)
	if err != nil || got != p {
		t.Fatalf("Verify = %+v, %v; want %+v", got, err, p)
	}
	other, err := IssueHS256(secret, p, time.Minute, "flowella", "someone-else")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(other); err == nil {
		t.Fatal("a token for another audience was accepted")
	}
	expired, err := IssueHS256(secret, p, -time.Hour, "flowella", "dashboard")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(expired); err == nil {
		t.Fatal("an expired token was accepted")
	}
}

// The secret is created once, private to the user, and read back the same
// by every later caller (make token and make run agree).
func TestLoadOrCreateSecret(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "session-secret")
	first, err := LoadOrCreateSecret(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) < minSecretLen {
		t.Fatalf("secret of %d bytes, want at least %d", len(first), minSecretLen)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
	again, err := LoadOrCreateSecret(path)
	if err != nil || again != first {
		t.Fatalf("second read = %q, %v; want the first secret", again, err)
	}
	// A file too short to be a secret is replaced, not used.
	if err := os.WriteFile(path, []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	replaced, err := LoadOrCreateSecret(path)
	if err != nil || replaced == "short" || len(replaced) < minSecretLen {
		t.Fatalf("short file: %q, %v", replaced, err)
	}
}
