package adminapi_test

import (
	"strings"
	"testing"

	"github.com/flowella/apikeys/config"
	"github.com/flowella/apikeys/shared/authz"
	"github.com/flowella/apikeys/shared/principal"
)

// Which roles may call an admin route is the route map's alone: a map that
// grants the admin routes to members only lets members in and keeps admins
// out, and the refusals name the roles the map grants.
func TestAdminRolesComeFromTheRouteMap(t *testing.T) {
	const adminRoles = `"roles": ["owner", "admin"]`
	if !strings.Contains(string(config.AuthzJSON), adminRoles) {
		t.Fatalf("config/authz.json no longer grants admin routes with %s; update this test", adminRoles)
	}
	membersOnly, err := authz.Parse([]byte(strings.ReplaceAll(string(config.AuthzJSON), adminRoles, `"roles": ["member"]`)))
	if err != nil {
		t.Fatal(err)
	}
	h := newHandlers(t)
	h.Catalog = membersOnly
	session := func(role string) map[string]any {
		return principal.Encode(principal.Principal{Type: principal.Session, OrgID: "org_demo", UserID: "u_demo", Role: role})
	}
	apiKey := principal.Encode(principal.Principal{Type: principal.APIKey, OrgID: "org_demo", KeyID: "key_x", KeyPrefix: "flwl_live_a1b2c3"})
	tests := []struct {
		name   string
		auth   map[string]any
		status int
	}{
		{"admin", session(principal.RoleAdmin), 403},
		{"owner", session(principal.RoleOwner), 403},
		{"api key", apiKey, 403},
		{"member", session(principal.RoleMember), 201},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := sampleEvent(t, "create-key")
			ev.RequestContext.Authorizer = tt.auth
			status, body := invoke(t, h.Create(), ev)
			if status != tt.status {
				t.Fatalf("%d %v, want %d", status, body, tt.status)
			}
			if status == 403 {
				msg, _ := body["error"].(map[string]any)["message"].(string)
				if !strings.HasSuffix(msg, ": member") {
					t.Fatalf("refusal does not name the roles the route map grants (member): %q", msg)
				}
			}
		})
	}
}
