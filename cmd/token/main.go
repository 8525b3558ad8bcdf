// Command token prints a signed session token for the local stack, alone on
// stdout, for scripts:
//
//	go run ./cmd/token -org org_demo -user u_1 -role admin
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/flowella/apikeys/local/localsession"
	"github.com/flowella/apikeys/shared/session"
)

func main() {
	org := flag.String("org", "org_demo", "organisation id (org_id claim)")
	user := flag.String("user", "u_demo_admin", "user id (sub claim)")
	role := flag.String("role", "admin", "role: owner, admin, member or read_only")
	ttl := flag.Duration("ttl", 12*time.Hour, "lifetime of the token")
	secretFile := flag.String("secret-file", ".local/session-secret", "HS256 secret shared with the local stack")
	flag.Parse()
	switch *role {
	case session.RoleOwner, session.RoleAdmin, session.RoleMember, session.RoleReadOnly:
	default:
		fmt.Fprintf(os.Stderr, "token: role must be owner, admin, member or read_only, not %q\n", *role)
		os.Exit(2)
	}
	if *org == "" || *user == "" {
		fmt.Fprintln(os.Stderr, "token: -org and -user must not be empty")
		os.Exit(2)
	}
	if os.Getenv("SESSION_JWKS_URL") != "" {
		fmt.Fprintln(os.Stderr, "token: SESSION_JWKS_URL is set, so the local stack accepts only your identity provider's tokens; sign in there to get one")
		os.Exit(2)
	}
	secret := os.Getenv("SESSION_HS256_SECRET")
	if secret == "" {
		var err error
		if secret, err = localsession.LoadOrCreateSecret(*secretFile); err != nil {
			fmt.Fprintln(os.Stderr, "token:", err)
			os.Exit(1)
		}
	}
	// The issuer and audience the local stack checks, when set.
	tok, err := localsession.IssueHS256(secret, session.Principal{UserID: *user, OrgID: *org, Role: *role}, *ttl,
		os.Getenv("SESSION_ISSUER"), os.Getenv("SESSION_AUDIENCE"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "token:", err)
		os.Exit(1)
	}
	fmt.Println(tok)
}
