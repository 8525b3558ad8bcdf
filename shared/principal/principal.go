// Package principal is the contract between the authorizer and everything
// behind it: who a request comes from, as the authorizer writes it into API
// Gateway's authorizer context, as the backends read it back and as the
// access log records it. It imports only the standard library, so every
// function can link it.
package principal

// Type says what kind of credential the authorizer let through.
type Type string

// Principal types.
const (
	Session Type = "session" // a signed-in user's session token
	APIKey  Type = "api_key" // an organisation's API key
)

// Roles a session may carry (the session token's role claim); the route map
// (config/authz.json) grants each admin route to some of them.
const (
	RoleOwner    = "owner"
	RoleAdmin    = "admin"
	RoleMember   = "member"
	RoleReadOnly = "read_only"
)

// KnownRole reports whether role is one of the roles above.
func KnownRole(role string) bool {
	switch role {
	case RoleOwner, RoleAdmin, RoleMember, RoleReadOnly:
		return true
	}
	return false
}

// Principal is who the authorizer let through.
type Principal struct {
	Type  Type
	OrgID string

	// A session's user and role.
	UserID string
	Role   string

	// An API key's id, display prefix and effective scopes (its own scopes
	// as its organisation's plan grants them at request time), and the
	// channels it is limited to (none: every channel).
	KeyID     string
	KeyPrefix string
	Scopes    []string
	Channels  []string
}
