package adminapi

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/flowella/apikeys/shared/httpapi"
	"github.com/flowella/apikeys/shared/keystore"
)

type updateRequest struct {
	Label      *string         `json:"label"`
	Scopes     json.RawMessage `json:"scopes"`
	AllowedIPs json.RawMessage `json:"allowed_ips"`
	Channels   json.RawMessage `json:"channels"`
}

// Update serves PATCH /v1/api-keys/{id}: a new label, scopes, allowed IPs
// and/or channels for an active key, as read: a key changed meanwhile is a
// 409 (412 with If-Match).
func (h *Handlers) Update() Proxy {
	return h.endpoint("update", func(ctx context.Context, c httpapi.Caller, req events.APIGatewayProxyRequest) (int, any, error) {
		id, err := keyID(req.PathParameters)
		if err != nil {
			return 0, nil, err
		}
		var in updateRequest
		if err := httpapi.DecodeJSON(req, &in, false); err != nil {
			return 0, nil, err
		}
		if in.Label == nil && in.Scopes == nil && in.AllowedIPs == nil && in.Channels == nil {
			return 0, nil, httpapi.Invalid("send label, scopes, allowed_ips or channels")
		}
		var changes keystore.Changes
		if in.Label != nil {
			l, err := cleanLabel(*in.Label)
			if err != nil {
				return 0, nil, err
			}
			changes.Label = &l
		}
		if in.Scopes != nil {
			var raw []string
			if err := json.Unmarshal(in.Scopes, &raw); err != nil || raw == nil {
				return 0, nil, httpapi.Invalid(`scopes must be an array of scope names, or ["*"] to inherit the plan`,
					httpapi.Detail{Field: "scopes", Issue: "wrong_type"})
			}
			if changes.Scopes, err = h.Catalog.NormalizeScopes(raw); err != nil {
				return 0, nil, err
			}
		}
		if changes.AllowedIPs, err = optionalList(in.AllowedIPs, "allowed_ips", "IP addresses or CIDR ranges", cleanAllowedIPs); err != nil {
			return 0, nil, err
		}
		if changes.Channels, err = optionalList(in.Channels, "channels", "channel ids", cleanChannels); err != nil {
			return 0, nil, err
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
		now := h.now() // one reading: the change's time and the answer's
		k, err = h.Store.UpdateAt(ctx, k, changes, h.changeOf(keystore.OpUpdate, c, req, now, k))
		if err != nil {
			return 0, nil, pre.changed(err)
		}
		return http.StatusOK, h.withWarnings(ctx, c.OrgID, resourceOf(k, now)), nil
	})
}
