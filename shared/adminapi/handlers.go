// Package adminapi is the admin HTTP API for an organisation's keys: one
// handler per endpoint, each a thin adapter from an API Gateway proxy event
// to the key store and back.
package adminapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/flowella/apikeys/shared/activity"
	"github.com/flowella/apikeys/shared/apikey"
	"github.com/flowella/apikeys/shared/audit"
	"github.com/flowella/apikeys/shared/authz"
	"github.com/flowella/apikeys/shared/deployconfig"
	"github.com/flowella/apikeys/shared/httpapi"
	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/principal"
	"github.com/flowella/apikeys/shared/stamp"
	"github.com/flowella/apikeys/shared/textclip"
)

// Store is what the admin handlers need of the key store.
type Store interface {
	Create(ctx context.Context, k keystore.Key) error
	CreateOnce(ctx context.Context, k keystore.Key, idem keystore.Idempotency) error
	Get(ctx context.Context, orgID, id string) (keystore.Key, error)
	List(ctx context.Context, orgID string, opts keystore.ListOptions) ([]keystore.Key, string, error)
	// UpdateAt, RevokeAt and Roll act on the key as Get read it, and fail
	// with keystore.ErrChanged when it changed in between.
	UpdateAt(ctx context.Context, k keystore.Key, changes keystore.Changes, c keystore.Change) (keystore.Key, error)
	RevokeAt(ctx context.Context, k keystore.Key, reason string, c keystore.Change) (keystore.Key, error)
	Roll(ctx context.Context, orgID string, old, next keystore.Key, grace time.Duration, c keystore.Change) (keystore.Key, error)
	RollOnce(ctx context.Context, orgID string, old, next keystore.Key, grace time.Duration, c keystore.Change, idem keystore.Idempotency) (keystore.Key, error)
	Replayed(ctx context.Context, op, orgID, keyID string, idem keystore.Idempotency, at stamp.Time) error
	GetOrg(ctx context.Context, id string) (keystore.Org, error)
	// CountActive counts the keys a status=active list shows, up to limit.
	CountActive(ctx context.Context, orgID string, now time.Time, limit int) (int, error)
}

// Handlers serve the admin endpoints.
type Handlers struct {
	Store   Store
	Catalog *authz.Catalog
	Env     apikey.Env
	Audit   AuditLog // only GET /v1/audit-events reads it
	Log     *slog.Logger
	Now     func() time.Time

	// Activity is read by the key activity endpoints only.
	Activity KeyActivity
}

// Proxy is the signature of a REST API proxy handler.
type Proxy func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error)

// tagged is a response body that is one key: its ETag goes out as a header.
type tagged interface{ ETag() string }

// RetryAfterSeconds is what a 503 unavailable asks the client to wait.
const RetryAfterSeconds = "1"

// endpoint wraps a handler body with the checks every admin endpoint shares:
// a session of a role the route map grants the route, no query parameter
// the endpoint does not take (queryParams), and one place where errors
// become responses.
func (h *Handlers) endpoint(name string, body func(context.Context, httpapi.Caller, events.APIGatewayProxyRequest) (int, any, error)) Proxy {
	return func(ctx context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		reqID := req.RequestContext.RequestID
		caller, err := h.adminCaller(req)
		if err == nil {
			_, err = httpapi.Query(req, queryParams[name]...)
		}
		if err == nil {
			var status int
			var out any
			status, out, err = body(ctx, caller, req)
			if err == nil {
				resp := httpapi.JSON(status, out, reqID)
				if t, ok := out.(tagged); ok && t.ETag() != "" {
					resp = httpapi.WithHeader(resp, "ETag", t.ETag())
				}
				return resp, nil
			}
		}
		apiErr := h.toAPIError(err)
		if apiErr.Status >= 500 {
			h.logger().ErrorContext(ctx, "admin request failed", "endpoint", name, "request_id", reqID, "error", err.Error())
		} else {
			h.logger().InfoContext(ctx, "admin request refused", "endpoint", name, "request_id", reqID,
				"status", apiErr.Status, "code", apiErr.Code)
		}
		resp := httpapi.ErrorResponse(apiErr, reqID)
		if apiErr.Status == http.StatusServiceUnavailable {
			resp = httpapi.WithHeader(resp, "Retry-After", RetryAfterSeconds)
		}
		return resp, nil
	}
}

func (h *Handlers) logger() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

func (h *Handlers) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// adminCaller lets through the sessions whose role the route map grants
// this route (the authorizer checked the same entry; this is the second
// lock, from the same key). API keys never manage keys. Which roles may
// call a route is the route map's alone (config/authz.json).
func (h *Handlers) adminCaller(req events.APIGatewayProxyRequest) (httpapi.Caller, error) {
	c, err := httpapi.CallerOf(req)
	if err != nil {
		return c, err
	}
	if h.Catalog == nil {
		return c, errors.New("admin handlers built without the route map") // fail closed
	}
	route, _, ok := h.Catalog.Resolve(req.HTTPMethod, req.Resource, req.PathParameters)
	if !ok || route.Auth != authz.AuthSession {
		return c, httpapi.Forbidden("this route is not an admin route of the route map")
	}
	if c.Type != principal.Session {
		return c, httpapi.Forbidden("API keys cannot be used on admin endpoints; sign in with a session of one of the roles: " +
			strings.Join(route.Roles, ", "))
	}
	if !route.AllowsRole(c.Role) {
		return c, httpapi.Forbidden("your role (" + c.Role + ") may not call " + route.Method + " " + route.Path +
			"; it needs one of: " + strings.Join(route.Roles, ", "))
	}
	return c, nil
}

// toAPIError is the one place where domain errors become HTTP errors.
func (h *Handlers) toAPIError(err error) *httpapi.Error {
	var apiErr *httpapi.Error
	var unknown *authz.UnknownScopesError
	var replay *keystore.ReplayError
	var rolled *keystore.RolledError
	switch {
	case errors.As(err, &apiErr):
		return apiErr
	case errors.As(err, &replay):
		return replayError(replay, resourceOf(replay.Key, h.now()))
	case errors.Is(err, keystore.ErrIdempotencyKeyReused):
		return &httpapi.Error{Status: http.StatusUnprocessableEntity, Code: httpapi.CodeIdempotencyKeyReused,
			Message: "this " + IdempotencyHeader + " was already used, within the last 24 hours, for a different request; " +
				"send a new " + IdempotencyHeader + " for a new request, and the same one only to retry the same request"}
	case errors.As(err, &unknown):
		details := make([]httpapi.Detail, len(unknown.Names))
		for i, n := range unknown.Names {
			details[i] = httpapi.Detail{Field: "scopes", Issue: "unknown_scope", Value: n}
		}
		return httpapi.Invalid(unknown.Error(), details...)
	case errors.Is(err, authz.ErrInvalidScopes):
		return httpapi.Invalid(err.Error(), httpapi.Detail{Field: "scopes", Issue: "invalid"})
	case errors.Is(err, keystore.ErrNotFound):
		return httpapi.NotFound("no API key with that id in your organisation")
	case errors.Is(err, keystore.ErrAlreadyRevoked):
		return &httpapi.Error{Status: http.StatusConflict, Code: httpapi.CodeAlreadyRevoked, Message: "the API key is already revoked"}
	case errors.Is(err, keystore.ErrRevoked):
		return &httpapi.Error{Status: http.StatusConflict, Code: httpapi.CodeConflict, Message: "the API key is revoked and cannot be changed"}
	case errors.Is(err, keystore.ErrExpired):
		return &httpapi.Error{Status: http.StatusConflict, Code: httpapi.CodeConflict, Message: "the API key has expired and cannot be changed"}
	case errors.Is(err, keystore.ErrChanged):
		return &httpapi.Error{Status: http.StatusConflict, Code: httpapi.CodeConflict,
			Message: "the API key changed meanwhile: another request changed it after this one read it, so nothing was done; " +
				"read the key again and retry if the change still makes sense"}
	case errors.As(err, &rolled):
		return &httpapi.Error{Status: http.StatusConflict, Code: httpapi.CodeConflict,
			Message: "the API key was already rolled to " + rolled.To + ", which is still active; roll " + rolled.To +
				" instead (or revoke it first to roll this key again)"}
	case errors.Is(err, keystore.ErrConflict):
		return &httpapi.Error{Status: http.StatusConflict, Code: httpapi.CodeConflict, Message: "the API key was changed by another request; try again"}
	case errors.Is(err, keystore.ErrOrgNotFound):
		return &httpapi.Error{Status: http.StatusConflict, Code: "org_not_configured",
			Message: "your organisation has no plan configured yet; ask Flowella support to set one up"}
	case keystore.Unavailable(err):
		return &httpapi.Error{Status: http.StatusServiceUnavailable, Code: httpapi.CodeUnavailable,
			Message: "the keys' table is busy at this moment (too many concurrent changes or requests); nothing was changed; retry in a second"}
	}
	return httpapi.AsError(err)
}

// changeOf records who is making this change to the key read (of) and the
// request's trace context; its time is of.ChangeAt(at), never before the
// key's last change.
func (h *Handlers) changeOf(op string, c httpapi.Caller, req events.APIGatewayProxyRequest, at time.Time, of keystore.Key) keystore.Change {
	when := of.ChangeAt(at)
	ua := req.RequestContext.Identity.UserAgent
	if ua == "" {
		ua = httpapi.Header(req, "User-Agent")
	}
	return keystore.Change{
		Op: op,
		At: when,
		Actor: keystore.Actor{
			UserID:    c.UserID,
			IP:        req.RequestContext.Identity.SourceIP,
			UserAgent: textclip.Clip(ua, 512),
		},
		Trace: keystore.Trace{
			RequestID:   req.RequestContext.RequestID,
			XRayTraceID: textclip.Clip(httpapi.Header(req, "X-Amzn-Trace-Id"), 256),
			TraceParent: textclip.Clip(httpapi.Header(req, "traceparent"), 256),
		},
	}
}

// New wires the handlers of every admin function from its start-up
// configuration: the key store on its tables (with Idempotency-Key records
// where the function has IDEMPOTENCY_TABLE), the scope catalog, the key
// environment and, where the function has AUDIT_TABLE, the audit log.
func New(fn deployconfig.Function) *Handlers {
	store := keystore.New(fn.DB, fn.KeysTable, fn.OrgsTable)
	if fn.IdempotencyTable != "" {
		store = store.WithIdempotency(fn.IdempotencyTable)
	}
	h := &Handlers{
		Store:   store,
		Catalog: fn.Catalog,
		Env:     fn.KeyEnv,
		Log:     fn.Log,
	}
	if fn.AuditTable != "" {
		h.Audit = audit.Log{DB: fn.DB, Table: fn.AuditTable}
	}
	if fn.ActivityTable != "" {
		h.Activity = activity.Log{DB: fn.DB, Table: fn.ActivityTable}
	}
	return h
}
