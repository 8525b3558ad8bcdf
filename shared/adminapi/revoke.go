package adminapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/flowella/apikeys/shared/httpapi"
	"github.com/flowella/apikeys/shared/keystore"
)

// revokeAttempts bounds how often a revoke without If-Match follows a key
// that keeps changing under it.
const revokeAttempts = 5

type revokeRequest struct {
	Reason *string `json:"reason"`
}

// Revoke serves POST /v1/api-keys/{id}/revoke. The body, with an optional
// reason, may be empty. There is no way back to active. With If-Match it
// revokes the key as read (412 if it changed meanwhile). Without, nothing a
// concurrent PATCH changes bears on a revoke, and someone revoking a leaked
// key must not be told to try again: it reads the key again and revokes
// that, a few times before answering 409.
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
		var k keystore.Key
		var now time.Time
		for attempt := 1; ; attempt++ {
			if k, err = h.Store.Get(ctx, c.OrgID, id); err != nil {
				return 0, nil, err
			}
			if err := pre.check(k); err != nil {
				return 0, nil, err
			}
			// One reading an attempt, after the key it acts on: the
			// revoke's time (never before the change it follows) and the
			// answer's.
			now = h.now()
			change := h.changeOf(keystore.OpRevoke, c, req, now, k)
			k, err = h.Store.RevokeAt(ctx, k, reason, change)
			if pre == nil && errors.Is(err, keystore.ErrChanged) && attempt < revokeAttempts {
				continue
			}
			if err != nil {
				return 0, nil, pre.changed(err)
			}
			break
		}
		h.logger().InfoContext(ctx, "api key revoked", "request_id", req.RequestContext.RequestID,
			"org_id", k.OrgID, "key_id", k.ID, "key_prefix", k.Prefix, "user_id", c.UserID)
		return http.StatusOK, resourceOf(k, now), nil
	})
}
