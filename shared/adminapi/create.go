package adminapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/flowella/apikeys/shared/apikey"
	"github.com/flowella/apikeys/shared/httpapi"
	"github.com/flowella/apikeys/shared/keystore"
)

type createRequest struct {
	Label     *string  `json:"label"`
	Scopes    []string `json:"scopes"`
	ExpiresAt *string  `json:"expires_at"`
}

// Create serves POST /v1/api-keys: it makes a key and returns its secret,
// this once.
func (h *Handlers) Create() Proxy {
	return h.endpoint("create", func(ctx context.Context, c httpapi.Caller, req events.APIGatewayProxyRequest) (int, any, error) {
		var in createRequest
		if err := httpapi.DecodeJSON(req, &in, false); err != nil {
			return 0, nil, err
		}
		if in.Label == nil {
			return 0, nil, httpapi.Invalid("label is required", httpapi.Detail{Field: "label", Issue: "required"})
		}
		label, err := cleanLabel(*in.Label)
		if err != nil {
			return 0, nil, err
		}
		scopes, err := h.Catalog.NormalizeScopes(in.Scopes)
		if err != nil {
			return 0, nil, err
		}
		now := h.now()
		expiresAt, err := cleanExpiry(in.ExpiresAt, now)
		if err != nil {
			return 0, nil, err
		}
		change := h.changeOf(keystore.OpCreate, c, req, now)
		for attempt := 0; ; attempt++ {
			secret, err := apikey.Generate(h.Env)
			if err != nil {
				return 0, nil, err
			}
			k := keystore.Key{
				Hash:       secret.Hash(),
				ID:         keystore.NewID(),
				OrgID:      c.OrgID,
				Prefix:     secret.Prefix(),
				Label:      label,
				Scopes:     scopes,
				Status:     keystore.StatusActive,
				CreatedAt:  change.At,
				CreatedBy:  c.UserID,
				ExpiresAt:  expiresAt,
				LastChange: &change,
			}
			err = h.Store.Create(ctx, k)
			// A hash collision of 190 random bits does not happen; retry once
			// rather than reason about it.
			if errors.Is(err, keystore.ErrDuplicateHash) && attempt == 0 {
				continue
			}
			if err != nil {
				return 0, nil, fmt.Errorf("create key for %s: %w", c.OrgID, err)
			}
			h.logger().InfoContext(ctx, "api key created", "request_id", change.Trace.RequestID,
				"org_id", k.OrgID, "key_id", k.ID, "key_prefix", k.Prefix, "user_id", c.UserID)
			return http.StatusCreated, createdKey{keyResource: resourceOf(k, now), Secret: secret.Secret()}, nil
		}
	})
}
