package localstack

import (
	"context"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/flowella/apikeys/shared/authz"
	"github.com/flowella/apikeys/shared/httpapi"
)

// standin answers a Flowella API route locally, so keys can be tried against
// real scopes. It is not the Flowella API: it only echoes who called.
func standin(r authz.Route) func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	return func(_ context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		c, err := httpapi.CallerOf(req)
		if err != nil {
			return httpapi.ErrorResponse(httpapi.AsError(err), req.RequestContext.RequestID), nil
		}
		return httpapi.JSON(http.StatusOK, map[string]any{
			"object":         "standin_response",
			"note":           "local stand-in for the Flowella API: the authorizer allowed this request",
			"route":          r.Method + " " + r.Path,
			"required_scope": r.Scope,
			"org_id":         c.OrgID,
			"key_id":         c.KeyID,
			"key_prefix":     c.KeyPrefix,
			"scopes":         c.Scopes,
			"channels":       c.Channels,
		}, req.RequestContext.RequestID), nil
	}
}
