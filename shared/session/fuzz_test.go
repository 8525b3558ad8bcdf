package session

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

const fuzzSecret = "fuzz-secret-0123456789abcdef0123456789"

// Token parsing never panics, refuses with ErrInvalid, and accepts only
// what the secret signed: any accepted token names the signed principal.
func FuzzVerify(f *testing.F) {
	v, err := NewVerifier(context.Background(), Config{HS256Secret: fuzzSecret})
	if err != nil {
		f.Fatal(err)
	}
	signed := Principal{UserID: "u_1", OrgID: "org_a", Role: "owner"}
	good := issueHS256(f, fuzzSecret, signed, time.Hour)
	other := issueHS256(f, "another-secret-0123456789abcdef01234567", signed, time.Hour)
	f.Add(good)
	f.Add(other)
	f.Add(strings.Replace(good, ".", "..", 1))
	f.Add("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1XzEiLCJvcmdfaWQiOiJvcmdfYSIsInJvbGUiOiJvd25lciJ9.")
	f.Add("eyJhbGciOiJIUzI1NiIsImNyaXQiOlsiZXhwIl19.e30.x")
	f.Add("")
	f.Fuzz(func(t *testing.T, token string) {
		p, err := v.Verify(token)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Verify(%q) failed with %v, not ErrInvalid", token, err)
			}
			return
		}
		if p != signed {
			t.Fatalf("Verify(%q) accepted %+v, which the secret never signed", token, p)
		}
	})
}
