package adminapi

import (
	"context"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/flowella/apikeys/shared/httpapi"
	"github.com/flowella/apikeys/shared/keystore"
)

type revokeRequest struct {
	Reason *string `json:"reason"`
}

// Revoke serves POST /v1/api-keys/{id}/revoke. The body, with an optional
// reason, may be empty. There is no way back to active. It revokes the key
// as read: a key changed meanwhile is a 409 (412 with If-Match).
func (h *Handlers) Revoke() Proxy {
	return h.endpoint("revoke", func(ctx context.Context, c httpapi.Caller, req events.APIGatewayProxyRequest) (int, any, error) {
		id, err := keyID(req.PathParameters)
		if err != nil {
			return 0, nil, err
		}
		var in revokeRequest
		if err := httpapi.DecodeJSON(req, &in, true); err != nil {
			return 0, nil, err
		}
		reason := ""
		if in.Reason != nil {
			if reason, err = cleanReason(*in.Reason); err != nil {
				return 0, nil, err
			}
		}
		pre, err := preconditionOf(req)
		if err != nil {
			return 0, nil, err
		}
		k, err := h.Store.Get(ctx, c.OrgID, id)
		if err != nil {
			return 0, nil, err
		}
		if err := pre.check(k); err != nil {
			return 0, nil, err
		}
		change := h.changeOf(keystore.OpRevoke, c, req, h.now())
		k, err = h.Store.RevokeAt(ctx, k, reason, change)
		if err != nil {
			return 0, nil, pre.changed(err)
		}
		h.logger().InfoContext(ctx, "api key revoked", "request_id", change.Trace.RequestID,
			"org_id", k.OrgID, "key_id", k.ID, "key_prefix", k.Prefix, "user_id", c.UserID)
		return http.StatusOK, resourceOf(k, h.now()), nil
	})
}
