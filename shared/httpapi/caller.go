package httpapi

import (
	"fmt"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// Principal types the authorizer puts in its context.
const (
	PrincipalSession = "session"
	PrincipalAPIKey  = "api_key"
)

// Caller is who the authorizer let through, read from its context.
type Caller struct {
	Type      string
	OrgID     string
	UserID    string
	Role      string
	KeyID     string
	KeyPrefix string
	Scopes    []string
	Channels  []string // the key is limited to these channels; none means all
}

// CallerOf reads the authorizer context of a proxy request. A request without
// one did not pass the authorizer and is refused.
func CallerOf(req events.APIGatewayProxyRequest) (Caller, error) {
	a := req.RequestContext.Authorizer
	str := func(k string) string {
		if v, ok := a[k]; ok && v != nil {
			return fmt.Sprint(v)
		}
		return ""
	}
	c := Caller{
		Type:      str("principal_type"),
		OrgID:     str("org_id"),
		UserID:    str("user_id"),
		Role:      str("role"),
		KeyID:     str("key_id"),
		KeyPrefix: str("key_prefix"),
	}
	if s := str("scopes"); s != "" {
		c.Scopes = strings.Split(s, " ")
	}
	if s := str("channels"); s != "" {
		c.Channels = strings.Split(s, " ")
	}
	if c.OrgID == "" || (c.Type != PrincipalSession && c.Type != PrincipalAPIKey) {
		return Caller{}, Unauthorized("missing or invalid credentials")
	}
	return c, nil
}
