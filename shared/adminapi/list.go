package adminapi

import (
	"context"
	"fmt"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/flowella/apikeys/shared/httpapi"
	"github.com/flowella/apikeys/shared/keystore"
)

// ManyActiveKeys is the active-key count from which a list carries a warning.
const ManyActiveKeys = 50

// maxCountedKeys bounds the count behind that warning: past it the message
// says "or more" instead of reading every key of a very large organisation.
const maxCountedKeys = 1000

type listResponse struct {
	Object     string        `json:"object"`
	Items      []keyResource `json:"items"`
	NextCursor *string       `json:"next_cursor"`
	Warnings   []warning     `json:"warnings"`
}

// List serves GET /v1/api-keys: the organisation's keys, newest first.
func (h *Handlers) List() Proxy {
	return h.endpoint("list", func(ctx context.Context, c httpapi.Caller, req events.APIGatewayProxyRequest) (int, any, error) {
		q, err := httpapi.Query(req, listParams...)
		if err != nil {
			return 0, nil, err
		}
		opts, err := listOptions(q)
		if err != nil {
			return 0, nil, err
		}
		opts.Now = h.now()
		keys, next, err := h.Store.List(ctx, c.OrgID, opts)
		if err != nil {
			return 0, nil, err
		}
		out := listResponse{Object: "list", Items: make([]keyResource, len(keys)), Warnings: []warning{}}
		// Each key's scopes its organisation's plan does not grant, as a GET
		// of it says: one read of the organisation for the page. When it
		// cannot be read the items go out without them, as a GET's would.
		var org keystore.Org
		var orgErr error
		if len(keys) > 0 {
			if org, orgErr = h.Store.GetOrg(ctx, c.OrgID); orgErr != nil {
				h.logger().WarnContext(ctx, "key warnings left out", "org_id", c.OrgID, "error", orgErr.Error())
			}
		}
		for i, k := range keys {
			out.Items[i] = resourceOf(k, opts.Now)
			if orgErr == nil {
				out.Items[i].Warnings = h.keyWarnings(k.Scopes, org)
			}
		}
		out.NextCursor = keyCursor.encode(next)
		// Counted from the keys as status=active lists them (not the
		// organisation's active_keys counter, which no expiry decrements);
		// a failed count leaves the warning out rather than failing the list.
		n, err := h.Store.CountActive(ctx, c.OrgID, opts.Now, maxCountedKeys)
		if err == nil && n >= ManyActiveKeys {
			count := fmt.Sprint(n)
			if n >= maxCountedKeys {
				count = fmt.Sprintf("%d or more", maxCountedKeys)
			}
			out.Warnings = append(out.Warnings, warning{Code: "many_active_keys",
				Message: "your organisation has " + count + " active keys; revoke the ones no longer in use"})
		} else if err != nil {
			h.logger().WarnContext(ctx, "active keys not counted", "org_id", c.OrgID, "error", err.Error())
		}
		return http.StatusOK, out, nil
	})
}

// listParams are the query parameters GET /v1/api-keys takes.
var listParams = []string{"status", "exposed", "limit", "cursor"}

// listOptions reads the list's query parameters, already checked by
// httpapi.Query, in a fixed order so the same request gets the same error.
func listOptions(q map[string]string) (keystore.ListOptions, error) {
	opts := keystore.ListOptions{Limit: 50}
	if v, ok := q["status"]; ok {
		switch v {
		case "all":
		case "active":
			opts.Status = keystore.StatusActive
		case "revoked":
			opts.Status = keystore.StatusRevoked
		case "expired":
			opts.Status = keystore.StatusExpired
		default:
			return opts, httpapi.Invalid("status must be active, expired, revoked or all", httpapi.Detail{Field: "status", Issue: "invalid"})
		}
	}
	if v, ok := q["exposed"]; ok {
		switch v {
		case "true":
			opts.Exposed = true
		case "false":
		default:
			return opts, httpapi.Invalid("exposed must be true (only keys reported found in public) or false", httpapi.Detail{Field: "exposed", Issue: "invalid"})
		}
	}
	if v, ok := q["limit"]; ok {
		n, err := parseLimit(v)
		if err != nil {
			return opts, err
		}
		opts.Limit = n
	}
	if v, ok := q["cursor"]; ok {
		id, err := keyCursor.decode(v)
		if err != nil {
			return opts, err
		}
		opts.Before = id
	}
	return opts, nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
