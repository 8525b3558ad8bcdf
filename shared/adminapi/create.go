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
	Label      *string  `json:"label"`
	Scopes     []string `json:"scopes"`
	ExpiresAt  *string  `json:"expires_at"`
	AllowedIPs []string `json:"allowed_ips"`
	Channels   []string `json:"channels"`
}

// Create serves POST /v1/api-keys: it makes a key and returns its secret,
// this once. With an Idempotency-Key, a retry makes no second key. Scopes
// the organisation's plan does not grant are kept, with a warning.
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
		allowedIPs, err := cleanAllowedIPs(in.AllowedIPs)
		if err != nil {
			return 0, nil, err
		}
		channels, err := cleanChannels(in.Channels)
		if err != nil {
			return 0, nil, err
		}
		idem, err := idempotencyOf(req, "POST /v1/api-keys", "")
		if err != nil {
			return 0, nil, err
		}
		// Read first: its plan says which scopes the key cannot use yet.
		org, err := h.Store.GetOrg(ctx, c.OrgID)
		if err != nil {
			return 0, nil, err
		}
		change := h.changeOf(keystore.OpCreate, c, req, now, keystore.Key{})
		template := keystore.Key{OrgID: c.OrgID, Label: label, Scopes: scopes, ExpiresAt: expiresAt,
			AllowedIPs: allowedIPs, Channels: channels}
		store := func(k keystore.Key) error { return h.Store.Create(ctx, k) }
		if idem != nil {
			store = func(k keystore.Key) error { return h.Store.CreateOnce(ctx, k, *idem) }
		}
		k, secret, err := h.issue(template, change, store)
		if err != nil {
			return 0, nil, fmt.Errorf("create key for %s: %w", c.OrgID, err)
		}
		h.logger().InfoContext(ctx, "api key created", "request_id", change.Trace.RequestID,
			"org_id", k.OrgID, "key_id", k.ID, "key_prefix", k.Prefix, "user_id", c.UserID)
		r := resourceOf(k, now)
		r.Warnings = h.keyWarnings(r.Scopes, org)
		return http.StatusCreated, createdKey{keyResource: r, Secret: secret.Secret()}, nil
	})
}

// issue makes a new key like template — a fresh secret, id and creation
// record — and stores it with store. A hash collision of 190 random bits
// does not happen; it is retried once rather than reasoned about.
func (h *Handlers) issue(template keystore.Key, change keystore.Change, store func(keystore.Key) error) (keystore.Key, apikey.Key, error) {
	for attempt := 0; ; attempt++ {
		secret, err := apikey.Generate(h.Env)
		if err != nil {
			return keystore.Key{}, apikey.Key{}, err
		}
		k := template
		k.Hash, k.ID, k.Prefix = secret.Hash(), keystore.NewID(), secret.Prefix()
		k.Status, k.Version = keystore.StatusActive, keystore.FirstVersion
		k.CreatedAt, k.CreatedBy, k.LastChange = change.At, change.Actor.UserID, &change
		err = store(k)
		if errors.Is(err, keystore.ErrDuplicateHash) && attempt == 0 {
			continue
		}
		return k, secret, err
	}
}
