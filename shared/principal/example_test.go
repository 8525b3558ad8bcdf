package principal_test

import (
	"fmt"

	"github.com/flowella/apikeys/shared/principal"
)

// The authorizer encodes who is calling; a backend decodes it from its
// proxy event's requestContext.authorizer.
func Example() {
	ctx := principal.Encode(principal.Principal{Type: principal.APIKey, OrgID: "org_demo",
		KeyID: "key_01KMZ0000000000000000000AB", KeyPrefix: "flwl_live_a1b2c3", Scopes: []string{"messages:send", "contacts:read"}})
	fmt.Println(ctx)

	p, err := principal.Decode(ctx)
	fmt.Println(p.Type, p.OrgID, p.KeyID, p.Scopes, err)

	_, err = principal.Decode(map[string]any{"principal_type": "api_key", "key_id": "key_x"})
	fmt.Println(err)
	// Output:
	// map[key_id:key_01KMZ0000000000000000000AB key_prefix:flwl_live_a1b2c3 org_id:org_demo principal_type:api_key scopes:messages:send contacts:read]
	// api_key org_demo key_01KMZ0000000000000000000AB [messages:send contacts:read] <nil>
	// no valid principal in the authorizer context: no org_id
}
