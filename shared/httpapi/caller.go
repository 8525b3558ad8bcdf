package httpapi

import (
	"github.com/aws/aws-lambda-go/events"

	"github.com/flowella/apikeys/shared/principal"
)

// Caller is who the authorizer let through, read from its context.
type Caller = principal.Principal

// CallerOf reads the authorizer context of a proxy request. A request without
// a valid one did not pass the authorizer and is refused (401).
func CallerOf(req events.APIGatewayProxyRequest) (Caller, error) {
	c, err := principal.Decode(req.RequestContext.Authorizer)
	if err != nil {
		return Caller{}, Unauthorized("missing or invalid credentials")
	}
	return c, nil
}
