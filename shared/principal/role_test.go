package principal_test

import (
	"testing"

	"github.com/flowella/apikeys/shared/authz"
	"github.com/flowella/apikeys/shared/principal"
)

func TestKnownRole(t *testing.T) {
	for role, want := range map[string]bool{
		"owner": true, "admin": true, "member": true, "read_only": true,
		"": false, "Owner": false, "superuser": false, "read-only": false,
	} {
		if got := principal.KnownRole(role); got != want {
			t.Errorf("KnownRole(%q) = %v, want %v", role, got, want)
		}
	}
}

// The route map grants admin routes to roles a session can carry: a role
// misspelt there would lock everyone out of the route, silently.
func TestRouteMapGrantsKnownRoles(t *testing.T) {
	c, err := authz.LoadFile("")
	if err != nil {
		t.Fatal(err)
	}
	sessionRoutes := 0
	for _, r := range c.Routes {
		if r.Auth != authz.AuthSession {
			continue
		}
		sessionRoutes++
		for _, role := range r.Roles {
			if !principal.KnownRole(role) {
				t.Errorf("config/authz.json: %s %s grants unknown role %q", r.Method, r.Path, role)
			}
		}
	}
	if sessionRoutes == 0 {
		t.Fatal("the route map has no session routes")
	}
}
