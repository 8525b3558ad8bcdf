package principal

import (
	"errors"
	"fmt"
	"strings"
)

// Field names of the authorizer context. The access log
// (template.yaml, AccessLogSetting.Format) records some of them as
// $context.authorizer.<name>, under the same name.
const (
	FieldType      = "principal_type"
	FieldOrgID     = "org_id"
	FieldUserID    = "user_id"
	FieldRole      = "role"
	FieldKeyID     = "key_id"
	FieldKeyPrefix = "key_prefix"
	FieldScopes    = "scopes"   // space-separated
	FieldChannels  = "channels" // space-separated
)

// ErrInvalid means the authorizer context names no principal a backend may
// serve: it is missing, or incomplete, or of an unknown type.
var ErrInvalid = errors.New("no valid principal in the authorizer context")

// Encode is p as an authorizer context. API Gateway takes only strings,
// numbers and booleans there, so lists are joined with spaces (scope names
// and channel ids contain none); an empty list is left out. Only the fields
// of p's type are written.
func Encode(p Principal) map[string]any {
	m := map[string]any{FieldType: string(p.Type), FieldOrgID: p.OrgID}
	switch p.Type {
	case Session:
		m[FieldUserID] = p.UserID
		m[FieldRole] = p.Role
	case APIKey:
		m[FieldKeyID] = p.KeyID
		m[FieldKeyPrefix] = p.KeyPrefix
		if len(p.Scopes) > 0 {
			m[FieldScopes] = strings.Join(p.Scopes, " ")
		}
		if len(p.Channels) > 0 {
			// A key limited to channels is never encoded as one limited to
			// none (every channel): a list of blanks fails in Decode.
			m[FieldChannels] = strings.Join(p.Channels, " ")
		}
	}
	return m
}

// Decode reads the principal from a proxy request's authorizer context
// (events.APIGatewayProxyRequestContext.Authorizer), which holds Encode's
// fields beside API Gateway's own (principalId, integrationLatency). It
// fails closed: a context without an organisation, of an unknown type, or
// without the session's user or the key's id, is ErrInvalid.
func Decode(ctx map[string]any) (Principal, error) {
	var bad []string
	str := func(name string) string {
		switch v := ctx[name].(type) {
		case nil:
			return ""
		case string:
			return v
		case bool, float64, float32, int, int64:
			return fmt.Sprint(v)
		}
		bad = append(bad, name)
		return ""
	}
	p := Principal{
		Type:      Type(str(FieldType)),
		OrgID:     str(FieldOrgID),
		UserID:    str(FieldUserID),
		Role:      str(FieldRole),
		KeyID:     str(FieldKeyID),
		KeyPrefix: str(FieldKeyPrefix),
		Scopes:    strings.Fields(str(FieldScopes)),
		Channels:  strings.Fields(str(FieldChannels)),
	}
	switch {
	case len(bad) > 0:
		return Principal{}, fmt.Errorf("%w: %s: not a string, number or boolean", ErrInvalid, strings.Join(bad, ", "))
	case p.Type != Session && p.Type != APIKey:
		return Principal{}, fmt.Errorf("%w: unknown %s %q", ErrInvalid, FieldType, p.Type)
	case p.OrgID == "":
		return Principal{}, fmt.Errorf("%w: no %s", ErrInvalid, FieldOrgID)
	case p.Type == Session && p.UserID == "":
		return Principal{}, fmt.Errorf("%w: session without %s", ErrInvalid, FieldUserID)
	case p.Type == APIKey && p.KeyID == "":
		return Principal{}, fmt.Errorf("%w: api key without %s", ErrInvalid, FieldKeyID)
	case p.Type == APIKey && len(p.Channels) == 0 && ctx[FieldChannels] != nil:
		// Present but naming no channel: read as "no limit", it would open
		// every channel to a key limited to some.
		return Principal{}, fmt.Errorf("%w: %s names no channel", ErrInvalid, FieldChannels)
	}
	// Only the fields of the type, as Encode writes them.
	if p.Type == Session {
		p.KeyID, p.KeyPrefix, p.Scopes, p.Channels = "", "", nil, nil
	} else {
		p.UserID, p.Role = "", ""
	}
	if len(p.Scopes) == 0 {
		p.Scopes = nil
	}
	if len(p.Channels) == 0 {
		p.Channels = nil
	}
	return p, nil
}
