package adminapi

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/flowella/apikeys/shared/httpapi"
	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/stamp"
)

// MaxGracePeriod bounds how long a rolled key keeps working.
const MaxGracePeriod = 7 * 24 * time.Hour

type rollRequest struct {
	GracePeriodSeconds *int64 `json:"grace_period_seconds"`
}

// rolledKey is the roll response: the new key with its secret, and the old
// key as it now stands.
type rolledKey struct {
	createdKey
	Replaced keyResource `json:"replaced"`
}

// Roll serves POST /v1/api-keys/{id}/roll: a replacement with the same label,
// scopes, allowed IPs, channels and expiry, whose secret is returned this once, while the old key
// is revoked now (grace_period_seconds 0, the default) or expires after the
// grace period. With an Idempotency-Key, a retry makes no second replacement.
// The replacement copies the key as read, and the roll retires that version
// only: a key changed meanwhile (a PATCH between the read and the write) is a
// 409 (412 with If-Match), never a replacement without the change. A key
// already rolled to a live successor (or with a live descendant) is a 409.
func (h *Handlers) Roll() Proxy {
	return h.endpoint("roll", func(ctx context.Context, c httpapi.Caller, req events.APIGatewayProxyRequest) (int, any, error) {
		id, err := keyID(req.PathParameters)
		if err != nil {
			return 0, nil, err
		}
		var in rollRequest
		if err := httpapi.DecodeJSON(req, &in, true); err != nil {
			return 0, nil, err
		}
		var grace time.Duration
		if in.GracePeriodSeconds != nil {
			// The range first: seconds past 2^63 ns would wrap the Duration.
			s := *in.GracePeriodSeconds
			if s < 0 || s > int64(MaxGracePeriod/time.Second) {
				return 0, nil, httpapi.Invalid(fmt.Sprintf("grace_period_seconds must be from 0 (revoke now) to %d (7 days)", int64(MaxGracePeriod/time.Second)),
					httpapi.Detail{Field: "grace_period_seconds", Issue: "out_of_range"})
			}
			grace = time.Duration(s) * time.Second
		}
		idem, err := idempotencyOf(req, "POST /v1/api-keys/{id}/roll", id)
		if err != nil {
			return 0, nil, err
		}
		pre, err := preconditionOf(req)
		if err != nil {
			return 0, nil, err
		}
		old, err := h.Store.Get(ctx, c.OrgID, id)
		if err != nil {
			return 0, nil, err
		}
		now := h.now()
		// A retry of a roll that went through is a replay, whatever the key
		// has become since (revoked, rolled, its ETag moved on).
		if idem != nil {
			if err := h.Store.Replayed(ctx, keystore.OpRoll, c.OrgID, id, *idem, stamp.Of(now)); err != nil {
				return 0, nil, err
			}
		}
		if err := pre.check(old); err != nil {
			return 0, nil, err
		}
		change := h.changeOf(keystore.OpRoll, c, req, now, old)
		template := keystore.Key{OrgID: c.OrgID, Label: old.Label, Scopes: old.Scopes, ExpiresAt: old.ExpiresAt,
			AllowedIPs: old.AllowedIPs, Channels: old.Channels, RolledFrom: old.ID}
		var replaced keystore.Key
		k, secret, err := h.issue(template, change, func(k keystore.Key) error {
			var err error
			if idem != nil {
				replaced, err = h.Store.RollOnce(ctx, c.OrgID, old, k, grace, change, *idem)
			} else {
				replaced, err = h.Store.Roll(ctx, c.OrgID, old, k, grace, change)
			}
			return err
		})
		if err != nil {
			return 0, nil, fmt.Errorf("roll key %s: %w", id, pre.changed(err))
		}
		h.logger().InfoContext(ctx, "api key rolled", "request_id", change.Trace.RequestID, "org_id", k.OrgID,
			"key_id", old.ID, "new_key_id", k.ID, "key_prefix", k.Prefix, "grace_seconds", int64(grace.Seconds()), "user_id", c.UserID)
		return http.StatusCreated, rolledKey{
			createdKey: createdKey{keyResource: h.withWarnings(ctx, c.OrgID, resourceOf(k, now)), Secret: secret.Secret()},
			Replaced:   resourceOf(replaced, now),
		}, nil
	})
}
