package adminapi

import (
	"context"
	"fmt"
	"strings"

	"github.com/flowella/apikeys/shared/keystore"
)

// warning is advice next to a successful answer: a key list's
// many_active_keys, a key's scopes_not_in_plan.
type warning struct {
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Scopes  []string `json:"scopes,omitempty"` // scopes_not_in_plan: the scopes concerned
}

// WarningScopesNotInPlan marks a key holding scopes its organisation's plan
// does not grant: accepted (a plan upgrade makes them work), but unusable
// until then.
const WarningScopesNotInPlan = "scopes_not_in_plan"

// keyWarnings are the warnings about k's scopes under org's plan; never nil.
func (h *Handlers) keyWarnings(scopes []string, org keystore.Org) *[]warning {
	out := []warning{}
	if missing := h.Catalog.NotGranted(scopes, org.Plan); len(missing) > 0 {
		out = append(out, warning{Code: WarningScopesNotInPlan, Scopes: missing,
			Message: fmt.Sprintf("the %s plan does not grant %s: the key cannot use them until the organisation's plan does",
				org.Plan, strings.Join(missing, ", "))})
	}
	return &out
}

// withWarnings is r with the warnings about its scopes under its
// organisation's plan. The key is already read or written: when the
// organisation cannot be read, r goes out without warnings rather than the
// request failing.
func (h *Handlers) withWarnings(ctx context.Context, orgID string, r keyResource) keyResource {
	org, err := h.Store.GetOrg(ctx, orgID)
	if err != nil {
		h.logger().WarnContext(ctx, "key warnings left out", "org_id", orgID, "key_id", r.ID, "error", err.Error())
		return r
	}
	r.Warnings = h.keyWarnings(r.Scopes, org)
	return r
}
