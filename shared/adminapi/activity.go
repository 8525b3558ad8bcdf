package adminapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/flowella/apikeys/shared/activity"
	"github.com/flowella/apikeys/shared/httpapi"
	"github.com/flowella/apikeys/shared/keystore"
)

// KeyActivity is where a key's recorded activity is read from.
type KeyActivity interface {
	List(ctx context.Context, orgID, keyID string, q activity.Query) ([]activity.Record, string, error)
	Usage(ctx context.Context, orgID, keyID string, since, until time.Time, day bool) (activity.Usage, error)
	Exposure(ctx context.Context, orgID, keyID string, since, until time.Time) (activity.Exposure, error)
}

// The query parameters of the key activity endpoints.
var (
	activityParams = []string{"since", "until", "status", "outcome", "limit", "cursor"}
	usageParams    = []string{"granularity", "since", "until"}
	exposureParams = []string{"since", "until"}
)

// DefaultActivityWindow is the window usage and exposure report when the
// request names no since: the activity table's default retention.
const DefaultActivityWindow = 90 * 24 * time.Hour

// MaxActivityWindow bounds the window of usage and exposure.
const MaxActivityWindow = 400 * 24 * time.Hour

var activityCursor = cursorKind{tag: "r1:", valid: activity.ValidCursor}

type activityItem struct {
	Object     string  `json:"object"`
	RequestID  string  `json:"request_id"`
	OccurredAt string  `json:"occurred_at"`
	Method     string  `json:"method"`
	Route      *string `json:"route"`
	Path       string  `json:"path"`
	Status     *int    `json:"status"`
	Outcome    string  `json:"outcome"`
	Reason     *string `json:"reason"`
	SourceIP   *string `json:"source_ip"`
	UserAgent  *string `json:"user_agent"`
	LatencyMS  *int    `json:"latency_ms"`
}

type activityList struct {
	Object     string         `json:"object"`
	Items      []activityItem `json:"items"`
	NextCursor *string        `json:"next_cursor"`
}

func orNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func activityItemOf(r activity.Record) activityItem {
	it := activityItem{Object: "key_activity", RequestID: r.RequestID, OccurredAt: r.OccurredAt.String(), Method: r.Method,
		Route: orNull(r.Route), Path: r.Path, Outcome: r.Outcome, Reason: orNull(r.Reason), SourceIP: orNull(r.SourceIP),
		UserAgent: orNull(r.UserAgent), LatencyMS: r.LatencyMS}
	if r.Status != 0 {
		it.Status = &r.Status
	}
	return it
}

// KeyActivity serves GET /v1/api-keys/{id}/activity: the requests made with
// the key, allowed and refused, newest first.
func (h *Handlers) KeyActivity() Proxy {
	return h.endpoint("activity", func(ctx context.Context, c httpapi.Caller, req events.APIGatewayProxyRequest) (int, any, error) {
		id, err := h.activityKey(ctx, c, req)
		if err != nil {
			return 0, nil, err
		}
		params, _ := httpapi.Query(req, activityParams...)
		q, err := activityQuery(params)
		if err != nil {
			return 0, nil, err
		}
		recs, next, err := h.Activity.List(ctx, c.OrgID, id, q)
		if err != nil {
			return 0, nil, err
		}
		out := activityList{Object: "list", Items: make([]activityItem, len(recs)), NextCursor: activityCursor.encode(next)}
		for i, r := range recs {
			out.Items[i] = activityItemOf(r)
		}
		return http.StatusOK, out, nil
	})
}

type usageBucket struct {
	Start string `json:"start"`
	activity.Counts
}

type usageResponse struct {
	Object      string          `json:"object"`
	KeyID       string          `json:"key_id"`
	Granularity string          `json:"granularity"`
	Since       string          `json:"since"`
	Until       string          `json:"until"`
	Totals      activity.Counts `json:"totals"`
	Buckets     []usageBucket   `json:"buckets"`
}

// KeyUsage serves GET /v1/api-keys/{id}/usage: the key's request counts by
// hour or day, from counters.
func (h *Handlers) KeyUsage() Proxy {
	return h.endpoint("usage", func(ctx context.Context, c httpapi.Caller, req events.APIGatewayProxyRequest) (int, any, error) {
		id, err := h.activityKey(ctx, c, req)
		if err != nil {
			return 0, nil, err
		}
		params, _ := httpapi.Query(req, usageParams...)
		granularity := "day"
		if v, ok := params["granularity"]; ok {
			if v != "hour" && v != "day" {
				return 0, nil, httpapi.Invalid("granularity must be hour or day", httpapi.Detail{Field: "granularity", Issue: "invalid"})
			}
			granularity = v
		}
		step := time.Hour
		if granularity == "day" {
			step = 24 * time.Hour
		}
		since, until, err := h.window(params, step)
		if err != nil {
			return 0, nil, err
		}
		u, err := h.Activity.Usage(ctx, c.OrgID, id, since, until, granularity == "day")
		if err != nil {
			return 0, nil, err
		}
		out := usageResponse{Object: "usage", KeyID: id, Granularity: granularity, Since: keystore.FormatTime(since),
			Until: keystore.FormatTime(until), Totals: u.Totals, Buckets: make([]usageBucket, len(u.Buckets))}
		for i, b := range u.Buckets {
			out.Buckets[i] = usageBucket{Start: keystore.FormatTime(b.Start), Counts: b.Counts}
		}
		return http.StatusOK, out, nil
	})
}

type exposureIP struct {
	IP        string `json:"ip"`
	Requests  int    `json:"requests"`
	Allowed   int    `json:"allowed"`
	Refused   int    `json:"refused"`
	FirstSeen string `json:"first_seen"`
	LastSeen  string `json:"last_seen"`
}

type exposureChange struct {
	Method    string `json:"method"`
	Route     string `json:"route"`
	Requests  int    `json:"requests"`
	FirstSeen string `json:"first_seen"`
	LastSeen  string `json:"last_seen"`
}

type exposureResponse struct {
	Object    string           `json:"object"`
	KeyID     string           `json:"key_id"`
	Since     string           `json:"since"`
	Until     string           `json:"until"`
	Totals    activity.Counts  `json:"totals"`
	SourceIPs []exposureIP     `json:"source_ips"`
	Changes   []exposureChange `json:"changes_by_route"`
}

// KeyExposure serves GET /v1/api-keys/{id}/exposure: for a window (whole
// hours), every address the key was used from, and its allowed changes
// (POST, PUT, PATCH, DELETE) by route — what to look at, and rotate
// downstream, after a leak.
func (h *Handlers) KeyExposure() Proxy {
	return h.endpoint("exposure", func(ctx context.Context, c httpapi.Caller, req events.APIGatewayProxyRequest) (int, any, error) {
		id, err := h.activityKey(ctx, c, req)
		if err != nil {
			return 0, nil, err
		}
		params, _ := httpapi.Query(req, exposureParams...)
		since, until, err := h.window(params, time.Hour)
		if err != nil {
			return 0, nil, err
		}
		e, err := h.Activity.Exposure(ctx, c.OrgID, id, since, until)
		if err != nil {
			return 0, nil, err
		}
		out := exposureResponse{Object: "exposure", KeyID: id, Since: keystore.FormatTime(since), Until: keystore.FormatTime(until),
			Totals: e.Totals, SourceIPs: make([]exposureIP, len(e.SourceIPs)), Changes: make([]exposureChange, len(e.Writes))}
		for i, s := range e.SourceIPs {
			out.SourceIPs[i] = exposureIP{IP: s.IP, Requests: s.Requests, Allowed: s.Allowed, Refused: s.Refused,
				FirstSeen: s.FirstSeen.String(), LastSeen: s.LastSeen.String()}
		}
		for i, w := range e.Writes {
			out.Changes[i] = exposureChange{Method: w.Method, Route: w.Route, Requests: w.Requests, FirstSeen: w.FirstSeen.String(), LastSeen: w.LastSeen.String()}
		}
		return http.StatusOK, out, nil
	})
}

// activityKey checks that the path names a key of the caller's
// organisation (404 otherwise, as for any key of another one).
func (h *Handlers) activityKey(ctx context.Context, c httpapi.Caller, req events.APIGatewayProxyRequest) (string, error) {
	id, err := keyID(req.PathParameters)
	if err != nil {
		return "", err
	}
	if h.Activity == nil {
		return "", errNoActivity
	}
	if _, err := h.Store.Get(ctx, c.OrgID, id); err != nil {
		return "", err
	}
	return id, nil
}

var errNoActivity = &httpapi.Error{Status: http.StatusInternalServerError, Code: httpapi.CodeInternal,
	Message: "this deployment has no activity table configured"}

// activityQuery reads the activity list's parameters in a fixed order, so
// the same request gets the same error.
func activityQuery(params map[string]string) (activity.Query, error) {
	q := activity.Query{Limit: 50}
	for _, name := range activityParams {
		v, ok := params[name]
		if !ok {
			continue
		}
		var err error
		switch name {
		case "since":
			q.Since, err = queryTime(name, v)
		case "until":
			q.Until, err = queryTime(name, v)
		case "status":
			q.Status, q.StatusClass, err = statusFilter(v)
		case "outcome":
			if v != activity.Allowed && v != activity.Refused {
				err = httpapi.Invalid("outcome must be allowed or refused", httpapi.Detail{Field: "outcome", Issue: "invalid"})
			}
			q.Outcome = v
		case "limit":
			q.Limit, err = parseLimit(v)
		case "cursor":
			q.Before, err = activityCursor.decode(v)
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

// statusFilter reads a status (403) or a class (4xx).
func statusFilter(v string) (status, class int, err error) {
	bad := httpapi.Invalid("status must be a status code such as 403 or a class such as 4xx",
		httpapi.Detail{Field: "status", Issue: "invalid"})
	if len(v) != 3 {
		return 0, 0, bad
	}
	if v[1:] == "xx" {
		if v[0] < '1' || v[0] > '5' {
			return 0, 0, bad
		}
		return 0, int(v[0] - '0'), nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 100 || n > 599 || v[0] == '+' {
		return 0, 0, bad
	}
	return n, 0, nil
}

// queryTime reads a time parameter (since, until) in UTC. RFC 3339 takes
// any offset, so a valid time can be in year 0 or 10000 once in UTC, where
// stored times (four-digit years) no longer sort with it: refused.
func queryTime(name, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return t, httpapi.Invalid(name+" must be an RFC 3339 time, such as 2026-11-25T10:00:00Z",
			httpapi.Detail{Field: name, Issue: "invalid"})
	}
	t = t.UTC()
	if t.Year() < 1 || t.Year() > 9999 {
		return t, httpapi.Invalid(name+" must be in years 0001 to 9999 (UTC)", httpapi.Detail{Field: name, Issue: "out_of_range"})
	}
	return t, nil
}

// window reads since and until and widens them to whole steps (hours or
// UTC days), the counters' resolution: until defaults to now, since to
// DefaultActivityWindow before it.
func (h *Handlers) window(params map[string]string, step time.Duration) (time.Time, time.Time, error) {
	until := h.now().UTC()
	if v, ok := params["until"]; ok {
		t, err := queryTime("until", v)
		if err != nil {
			return t, t, err
		}
		until = t
	}
	since := until.Add(-DefaultActivityWindow)
	if v, ok := params["since"]; ok {
		t, err := queryTime("since", v)
		if err != nil {
			return t, t, err
		}
		since = t
	}
	if !since.Before(until) {
		return since, until, httpapi.Invalid("since must be earlier than until", httpapi.Detail{Field: "since", Issue: "invalid"})
	}
	since = since.Truncate(step)
	if t := until.Truncate(step); t.Before(until) {
		until = t.Add(step)
	}
	if until.Year() > 9999 {
		return since, until, httpapi.Invalid("until must be before 9999-12-31 (UTC), whose last hours cannot be counted",
			httpapi.Detail{Field: "until", Issue: "out_of_range"})
	}
	if until.Sub(since) > MaxActivityWindow {
		return since, until, httpapi.Invalid("the window from since to until may be at most 400 days",
			httpapi.Detail{Field: "since", Issue: "invalid"})
	}
	return since, until, nil
}
