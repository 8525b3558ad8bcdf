package adminapi

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/flowella/apikeys/shared/audit"
	"github.com/flowella/apikeys/shared/httpapi"
	"github.com/flowella/apikeys/shared/keystore"
)

// AuditFeature is the organisation feature flag that opens the audit log.
const AuditFeature = "audit_log"

// AuditLog is where audit records are read from.
type AuditLog interface {
	List(ctx context.Context, orgID string, q audit.Query) ([]audit.Record, string, error)
}

type auditEvent struct {
	Object string `json:"object"`
	audit.Record
}

type auditList struct {
	Object     string       `json:"object"`
	Items      []auditEvent `json:"items"`
	NextCursor *string      `json:"next_cursor"`
}

// AuditEvents serves GET /v1/audit-events: the organisation's audit records,
// newest first, for organisations with the audit_log feature.
func (h *Handlers) AuditEvents() Proxy {
	return h.endpoint("audit-events", func(ctx context.Context, c httpapi.Caller, req events.APIGatewayProxyRequest) (int, any, error) {
		if h.Audit == nil {
			return 0, nil, errors.New("audit events: no audit table configured")
		}
		params, err := httpapi.Query(req, auditParams...)
		if err != nil {
			return 0, nil, err
		}
		q, err := auditQuery(params)
		if err != nil {
			return 0, nil, err
		}
		org, err := h.Store.GetOrg(ctx, c.OrgID)
		if err != nil && !errors.Is(err, keystore.ErrOrgNotFound) {
			return 0, nil, err
		}
		if !org.HasFeature(AuditFeature) {
			return 0, nil, &httpapi.Error{Status: http.StatusForbidden, Code: httpapi.CodeFeatureNotEnabled,
				Message: "the audit log is not enabled for your organisation's plan"}
		}
		recs, next, err := h.Audit.List(ctx, c.OrgID, q)
		if err != nil {
			return 0, nil, err
		}
		out := auditList{Object: "list", Items: make([]auditEvent, len(recs))}
		for i, r := range recs {
			out.Items[i] = auditEvent{Object: "audit_event", Record: r}
		}
		out.NextCursor = auditCursor.encode(next)
		return http.StatusOK, out, nil
	})
}

// auditParams are the query parameters GET /v1/audit-events takes.
var auditParams = []string{"key_id", "type", "since", "until", "limit", "cursor"}

// auditQuery reads the audit query's parameters, already checked by
// httpapi.Query, in a fixed order so the same request gets the same error.
func auditQuery(params map[string]string) (audit.Query, error) {
	q := audit.Query{Limit: 50}
	for _, name := range auditParams {
		v, ok := params[name]
		if !ok {
			continue
		}
		var err error
		switch name {
		case "key_id":
			if !keystore.ValidID(v) {
				return q, httpapi.Invalid("key_id must be a key id such as key_01J…", httpapi.Detail{Field: "key_id", Issue: "invalid"})
			}
			q.KeyID = v
		case "type":
			if !slices.Contains(audit.Types, v) {
				return q, httpapi.Invalid("type must be one of "+strings.Join(audit.Types, ", "), httpapi.Detail{Field: "type", Issue: "invalid"})
			}
			q.Type = v
		case "since":
			q.Since, err = queryTime(name, v)
		case "until":
			q.Until, err = queryTime(name, v)
		case "limit":
			q.Limit, err = parseLimit(v)
		case "cursor":
			q.Before, err = auditCursor.decode(v)
		}
		if err != nil {
			return q, err
		}
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
		return q, httpapi.Invalid("since must be earlier than until", httpapi.Detail{Field: "since", Issue: "invalid"})
	}
	return q, nil
}

// validAuditSK checks a cursor's sort key: a stored time, "#", a record id.
func validAuditSK(sk string) bool {
	at, id, ok := strings.Cut(sk, "#")
	if !ok || !strings.HasPrefix(id, "aud_") || len(id) != 30 {
		return false
	}
	_, err := time.Parse(keystore.TimeLayout, at)
	return err == nil
}
