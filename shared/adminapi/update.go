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
}

// Update serves PATCH /v1/api-keys/{id}: a new label, scopes and/or allowed
// IPs for an active key.
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
		if in.Label == nil && in.Scopes == nil && in.AllowedIPs == nil {
			return 0, nil, httpapi.Invalid("send label, scopes or allowed_ips")
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
		if in.AllowedIPs != nil {
			var raw []string
			if err := json.Unmarshal(in.AllowedIPs, &raw); err != nil || raw == nil {
				return 0, nil, httpapi.Invalid("allowed_ips must be an array of IP addresses or CIDR ranges ([] lifts the restriction)",
					httpapi.Detail{Field: "allowed_ips", Issue: "wrong_type"})
			}
			ips, err := cleanAllowedIPs(raw)
			if err != nil {
				return 0, nil, err
			}
			if ips == nil {
				ips = []string{}
			}
			changes.AllowedIPs = &ips
		}
		k, err := h.Store.Update(ctx, c.OrgID, id, changes, h.changeOf(keystore.OpUpdate, c, req, h.now()))
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, resourceOf(k, h.now()), nil
	})
}
