package adminapi

import (
	"context"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/flowella/apikeys/shared/httpapi"
)

// Get serves GET /v1/api-keys/{id}, with the key's ETag and the warnings
// about its scopes under the organisation's plan.
func (h *Handlers) Get() Proxy {
	return h.endpoint("get", func(ctx context.Context, c httpapi.Caller, req events.APIGatewayProxyRequest) (int, any, error) {
		id, err := keyID(req.PathParameters)
		if err != nil {
			return 0, nil, err
		}
		k, err := h.Store.Get(ctx, c.OrgID, id)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, h.withWarnings(ctx, c.OrgID, resourceOf(k, h.now())), nil
	})
}
