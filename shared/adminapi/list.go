package adminapi

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/flowella/apikeys/shared/httpapi"
	"github.com/flowella/apikeys/shared/keystore"
)

// ManyActiveKeys is the active-key count from which a list carries a warning.
const ManyActiveKeys = 50

type listResponse struct {
	Object     string        `json:"object"`
	Items      []keyResource `json:"items"`
	NextCursor *string       `json:"next_cursor"`
	Warnings   []warning     `json:"warnings"`
}

type warning struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// List serves GET /v1/api-keys: the organisation's keys, newest first.
func (h *Handlers) List() Proxy {
	return h.endpoint("list", func(ctx context.Context, c httpapi.Caller, req events.APIGatewayProxyRequest) (int, any, error) {
		opts, err := listOptions(req.QueryStringParameters)
		if err != nil {
			return 0, nil, err
		}
		opts.Now = h.now()
		keys, next, err := h.Store.List(ctx, c.OrgID, opts)
		if err != nil {
			return 0, nil, err
		}
		out := listResponse{Object: "list", Items: make([]keyResource, len(keys)), Warnings: []warning{}}
		for i, k := range keys {
			out.Items[i] = resourceOf(k, opts.Now)
		}
		if next != "" {
			cur := encodeCursor(next)
			out.NextCursor = &cur
		}
		org, err := h.Store.GetOrg(ctx, c.OrgID)
		if err == nil && org.ActiveKeys >= ManyActiveKeys {
			out.Warnings = append(out.Warnings, warning{Code: "many_active_keys",
				Message: fmt.Sprintf("your organisation has %d active keys; revoke the ones no longer in use", org.ActiveKeys)})
		}
		return http.StatusOK, out, nil
	})
}

func listOptions(q map[string]string) (keystore.ListOptions, error) {
	opts := keystore.ListOptions{Limit: 50}
	for name, v := range q {
		switch name {
		case "status":
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
		case "limit":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 100 {
				return opts, httpapi.Invalid("limit must be a whole number from 1 to 100", httpapi.Detail{Field: "limit", Issue: "invalid"})
			}
			opts.Limit = n
		case "cursor":
			id, ok := decodeCursor(v)
			if !ok {
				return opts, httpapi.Invalid("cursor is not valid; pass next_cursor from the previous page unchanged",
					httpapi.Detail{Field: "cursor", Issue: "invalid"})
			}
			opts.Before = id
		default:
			return opts, httpapi.Invalid(fmt.Sprintf("unknown query parameter %q; use status, limit or cursor", clip(name)),
				httpapi.Detail{Field: clip(name), Issue: "unknown_parameter"})
		}
	}
	return opts, nil
}

// Cursors are opaque to clients: a version tag and the last key id seen. The
// query they resume always runs in the caller's own organisation.
const cursorTag = "k1:"

func encodeCursor(id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorTag + id))
}

func decodeCursor(s string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return "", false
	}
	id, ok := strings.CutPrefix(string(b), cursorTag)
	if !ok || !keystore.ValidID(id) {
		return "", false
	}
	return id, true
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
