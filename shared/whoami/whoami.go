// Package whoami serves GET /v1/whoami: the calling key's organisation, id,
// prefix and effective scopes, as the authorizer resolved them, so that a
// user can check a new key.
package whoami

import (
	"context"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/flowella/apikeys/shared/httpapi"
	"github.com/flowella/apikeys/shared/principal"
)

// Response is the whoami body.
type Response struct {
	Object        string   `json:"object"`
	PrincipalType string   `json:"principal_type"`
	OrgID         string   `json:"org_id"`
	KeyID         string   `json:"key_id"`
	KeyPrefix     string   `json:"key_prefix"`
	Scopes        []string `json:"scopes"`
}

// Handle answers from the authorizer's context; it needs no storage.
func Handle(_ context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	reqID := req.RequestContext.RequestID
	c, err := httpapi.CallerOf(req)
	if err != nil {
		return httpapi.ErrorResponse(httpapi.AsError(err), reqID), nil
	}
	if c.Type != principal.APIKey {
		return httpapi.ErrorResponse(httpapi.Forbidden("whoami describes API keys; call it with an API key"), reqID), nil
	}
	scopes := c.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	return httpapi.JSON(http.StatusOK, Response{
		Object: "whoami", PrincipalType: string(c.Type), OrgID: c.OrgID, KeyID: c.KeyID, KeyPrefix: c.KeyPrefix, Scopes: scopes,
	}, reqID), nil
}
