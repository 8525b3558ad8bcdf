package adminapi_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/flowella/apikeys/local/dynamotest"
	"github.com/flowella/apikeys/shared/adminapi"
	"github.com/flowella/apikeys/shared/apikey"
	"github.com/flowella/apikeys/shared/audit"
	"github.com/flowella/apikeys/shared/authz"
	"github.com/flowella/apikeys/shared/keystore"
)

// strictFixture is the admin handlers on DynamoDB Local, with the audit log,
// and one active key of org_demo that refused requests must leave alone.
type strictFixture struct {
	h  *adminapi.Handlers
	id string
}

func newStrictFixture(t *testing.T) strictFixture {
	t.Helper()
	db, tables := dynamotest.Setup(t)
	store := keystore.New(db, tables["KeysTable"], tables["OrgsTable"]).WithIdempotency(tables["IdempotencyTable"])
	if err := store.SetOrg(context.Background(), "org_demo", "paid", []string{"audit_log"}); err != nil {
		t.Fatal(err)
	}
	catalog, err := authz.Load()
	if err != nil {
		t.Fatal(err)
	}
	h := &adminapi.Handlers{Store: store, Catalog: catalog, Env: apikey.EnvLive,
		Audit: audit.Log{DB: db, Table: tables["AuditTable"]}}
	f := strictFixture{h: h}
	status, created := invoke(t, h.Create(), f.request(t, `{"label":"stable","scopes":["messages:read"]}`, nil))
	if status != 201 {
		t.Fatalf("create: %d %v", status, created)
	}
	f.id = created["id"].(string)
	return f
}

// request is an admin session's request (the sample create event without
// its Idempotency-Key) with this body and these query parameters, as API
// Gateway passes them: the last value of each in queryStringParameters,
// every value in multiValueQueryStringParameters.
func (f strictFixture) request(t *testing.T, body string, query map[string][]string) events.APIGatewayProxyRequest {
	t.Helper()
	ev := sampleEvent(t, "create-key")
	delete(ev.Headers, "Idempotency-Key")
	delete(ev.MultiValueHeaders, "Idempotency-Key")
	ev.Body = body
	if f.id != "" {
		ev.PathParameters = map[string]string{"id": f.id}
	}
	if query != nil {
		ev.QueryStringParameters = map[string]string{}
		ev.MultiValueQueryStringParameters = query
		for name, vs := range query {
			ev.QueryStringParameters[name] = vs[len(vs)-1]
		}
	}
	return ev
}

// handler is one admin endpoint by the name its handler logs.
func (f strictFixture) handler(t *testing.T, endpoint string) adminapi.Proxy {
	t.Helper()
	switch endpoint {
	case "create":
		return f.h.Create()
	case "list":
		return f.h.List()
	case "get":
		return f.h.Get()
	case "update":
		return f.h.Update()
	case "revoke":
		return f.h.Revoke()
	case "roll":
		return f.h.Roll()
	case "audit-events":
		return f.h.AuditEvents()
	}
	t.Fatalf("no endpoint %q", endpoint)
	return nil
}

// keys is every key of org_demo as stored, to compare before and after.
func (f strictFixture) keys(t *testing.T) string {
	t.Helper()
	keys, _, err := f.h.Store.List(context.Background(), "org_demo", keystore.ListOptions{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(keys)
	return string(b)
}

// refused checks a 400 validation_failed whose message mentions each of
// words and whose details name field with issue (and value, when given).
func refused(t *testing.T, status int, body map[string]any, field, issue, value string, words ...string) {
	t.Helper()
	e, _ := body["error"].(map[string]any)
	msg, _ := e["message"].(string)
	if status != 400 || e["code"] != "validation_failed" || body["request_id"] == nil {
		t.Fatalf("got %d %v, want 400 validation_failed", status, body)
	}
	for _, w := range words {
		if !strings.Contains(msg, w) {
			t.Errorf("message %q does not mention %q", msg, w)
		}
	}
	details, _ := e["details"].([]any)
	if !slices.ContainsFunc(details, func(d any) bool {
		m, _ := d.(map[string]any)
		return m["field"] == field && m["issue"] == issue && (value == "" || m["value"] == value)
	}) {
		t.Errorf("details %v lack {field %q, issue %q, value %q}", details, field, issue, value)
	}
}

// Finding 7: field names match exactly, and a field given twice is refused,
// so {"scopes":[…],"SCOPES":["*"]} cannot widen a key.
func TestBodyFieldNamesAreExactAndGivenOnce(t *testing.T) {
	f := newStrictFixture(t)
	tests := []struct {
		name, endpoint, body string
		field, issue         string
	}{
		{"create: odd-case scopes after scopes", "create", `{"label":"x","scopes":["messages:read"],"SCOPES":["*"]}`, "SCOPES", "unknown_field"},
		{"create: odd-case label", "create", `{"LABEL":"x"}`, "LABEL", "unknown_field"},
		{"create: label twice", "create", `{"label":"a","label":"b"}`, "label", "duplicate_field"},
		{"create: scopes twice", "create", `{"label":"a","scopes":["messages:read"],"scopes":["*"]}`, "scopes", "duplicate_field"},
		{"update: odd-case scopes", "update", `{"Scopes":["*"]}`, "Scopes", "unknown_field"},
		{"update: scopes twice", "update", `{"scopes":["messages:read"],"scopes":["*"]}`, "scopes", "duplicate_field"},
		{"update: label and Label", "update", `{"label":"a","Label":"b"}`, "Label", "unknown_field"},
		{"update: allowed_ips twice", "update", `{"allowed_ips":["10.0.0.0/8"],"allowed_ips":[]}`, "allowed_ips", "duplicate_field"},
		{"revoke: odd-case reason", "revoke", `{"Reason":"x"}`, "Reason", "unknown_field"},
		{"revoke: reason twice", "revoke", `{"reason":"a","reason":"b"}`, "reason", "duplicate_field"},
		{"roll: odd-case grace", "roll", `{"Grace_Period_Seconds":60}`, "Grace_Period_Seconds", "unknown_field"},
		{"roll: grace twice", "roll", `{"grace_period_seconds":0,"grace_period_seconds":60}`, "grace_period_seconds", "duplicate_field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.keys(t)
			status, body := invoke(t, f.handler(t, tt.endpoint), f.request(t, tt.body, nil))
			refused(t, status, body, tt.field, tt.issue, "", tt.field)
			if after := f.keys(t); after != before {
				t.Fatalf("a refused request changed the keys:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// Finding 8: every endpoint refuses query parameters it does not take, and a
// parameter given twice, before it changes anything.
func TestUnknownAndRepeatedQueryParametersAreRefused(t *testing.T) {
	f := newStrictFixture(t)
	tests := []struct {
		name, endpoint, body string
		query                map[string][]string
		field, issue         string
	}{
		{"create ?dry_run", "create", `{"label":"new"}`, map[string][]string{"dry_run": {"true"}}, "dry_run", "unknown_parameter"},
		{"get ?fields", "get", "", map[string][]string{"fields": {"secret"}}, "fields", "unknown_parameter"},
		{"update ?dry_run", "update", `{"label":"changed"}`, map[string][]string{"dry_run": {"true"}}, "dry_run", "unknown_parameter"},
		{"revoke ?dry_run", "revoke", `{"reason":"test"}`, map[string][]string{"dry_run": {"true"}}, "dry_run", "unknown_parameter"},
		{"roll ?grace_period_seconds", "roll", "", map[string][]string{"grace_period_seconds": {"60"}}, "grace_period_seconds", "unknown_parameter"},
		{"list ?LIMIT", "list", "", map[string][]string{"LIMIT": {"1"}}, "LIMIT", "unknown_parameter"},
		{"list ?limit twice", "list", "", map[string][]string{"limit": {"1", "2"}}, "limit", "repeated_parameter"},
		{"list ?status twice, same value", "list", "", map[string][]string{"status": {"all", "all"}}, "status", "repeated_parameter"},
		{"audit-events ?type twice", "audit-events", "", map[string][]string{"type": {"api_key.created", "api_key.revoked"}}, "type", "repeated_parameter"},
		{"audit-events ?order", "audit-events", "", map[string][]string{"order": {"asc"}}, "order", "unknown_parameter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.keys(t)
			status, body := invoke(t, f.handler(t, tt.endpoint), f.request(t, tt.body, tt.query))
			refused(t, status, body, tt.field, tt.issue, "", tt.field)
			if after := f.keys(t); after != before {
				t.Fatalf("a refused request changed the keys:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
	// The parameters an endpoint takes still work.
	for _, ok := range []struct {
		endpoint string
		query    map[string][]string
	}{
		{"list", map[string][]string{"limit": {"1"}, "status": {"active"}}},
		{"audit-events", map[string][]string{"limit": {"1"}, "type": {"api_key.created"}}},
		{"get", map[string][]string{}},
	} {
		if status, body := invoke(t, f.handler(t, ok.endpoint), f.request(t, "", ok.query)); status != 200 {
			t.Errorf("%s %v: %d %v", ok.endpoint, ok.query, status, body)
		}
	}
}

// Finding 9: labels (and revoke reasons, free text too) refuse control,
// format (zero-width, bidi) and line or paragraph separator characters, and
// say which code point.
func TestLabelAndReasonRefuseInvisibleCharacters(t *testing.T) {
	f := newStrictFixture(t)
	tests := []struct {
		name, endpoint, body string
		field, value         string
	}{
		{"bidi override", "create", `{"label":"prod \u202egnp.exe"}`, "label", "U+202E"},
		{"bidi isolate", "create", `{"label":"a\u2066b"}`, "label", "U+2066"},
		{"zero-width space", "create", `{"label":"a\u200bb"}`, "label", "U+200B"},
		{"zero-width joiner", "create", `{"label":"a\u200db"}`, "label", "U+200D"},
		{"byte order mark", "create", `{"label":"\ufeffprod"}`, "label", "U+FEFF"},
		{"soft hyphen", "create", `{"label":"pro\u00add"}`, "label", "U+00AD"},
		{"line separator", "create", `{"label":"a\u2028b"}`, "label", "U+2028"},
		{"paragraph separator", "create", `{"label":"a\u2029b"}`, "label", "U+2029"},
		{"NUL", "create", `{"label":"a\u0000b"}`, "label", "U+0000"},
		{"DEL", "create", `{"label":"a\u007fb"}`, "label", "U+007F"},
		{"C1 control", "create", `{"label":"a\u0085b"}`, "label", "U+0085"},
		{"tag character", "create", `{"label":"a\udb40\udc41b"}`, "label", "U+E0041"},
		{"patch label", "update", `{"label":"prod \u202egnp.exe"}`, "label", "U+202E"},
		{"revoke reason", "revoke", `{"reason":"leaked \u202etxt.ti"}`, "reason", "U+202E"},
		{"revoke reason zero-width", "revoke", `{"reason":"a\u200bb"}`, "reason", "U+200B"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.keys(t)
			status, body := invoke(t, f.handler(t, tt.endpoint), f.request(t, tt.body, nil))
			refused(t, status, body, tt.field, "invalid_character", tt.value, tt.field, tt.value)
			if after := f.keys(t); after != before {
				t.Fatalf("a refused request changed the keys:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
	// A lone surrogate is not a character: refused while decoding, naming the field.
	t.Run("lone surrogate", func(t *testing.T) {
		before := f.keys(t)
		status, body := invoke(t, f.h.Create(), f.request(t, `{"label":"a\ud800b"}`, nil))
		refused(t, status, body, "label", "invalid_utf8", "", "label")
		if after := f.keys(t); after != before {
			t.Fatalf("a refused request changed the keys")
		}
	})
	// Letters, marks, symbols and emoji of any script are fine.
	for _, label := range []string{"Café ☕ 日本語 🚀", "प्रोडक्शन", "n8n — production (EU)", "עברית"} {
		body, _ := json.Marshal(map[string]string{"label": label})
		status, out := invoke(t, f.h.Create(), f.request(t, string(body), nil))
		if status != 201 || out["label"] != label {
			t.Errorf("label %q: %d %v", label, status, out)
		}
	}
}

// Issue 8, findings 7–9, as a client sends them through API Gateway (query
// strings parsed into the last value and multiValueQueryStringParameters):
// each request is refused with a 400 that names the field or parameter,
// and no table has changed.
func TestStrictRequestsChangeNothing(t *testing.T) {
	a := newAPI(t)
	admin := sessionOf("org_a", "u_a", "admin")
	id, _ := a.createKey(admin, map[string]any{"label": "stable", "scopes": []string{"messages:read"}})
	key := "/v1/api-keys/" + id
	tests := []struct {
		name, method, path, body string
		field, issue             string
	}{
		// Finding 7: exact-case field names, each once.
		{"create: SCOPES widens scopes", "POST", "/v1/api-keys", `{"label":"x","scopes":["messages:read"],"SCOPES":["*"]}`, "SCOPES", "unknown_field"},
		{"create: LABEL", "POST", "/v1/api-keys", `{"LABEL":"x"}`, "LABEL", "unknown_field"},
		{"create: scopes twice", "POST", "/v1/api-keys", `{"label":"x","scopes":["messages:read"],"scopes":["*"]}`, "scopes", "duplicate_field"},
		{"patch: scopes twice", "PATCH", key, `{"scopes":["messages:read"],"scopes":["*"]}`, "scopes", "duplicate_field"},
		{"patch: escaped duplicate", "PATCH", key, `{"label":"a","l\u0061bel":"b"}`, "label", "duplicate_field"},
		{"revoke: Reason", "POST", key + "/revoke", `{"Reason":"x"}`, "Reason", "unknown_field"},
		{"roll: grace twice", "POST", key + "/roll", `{"grace_period_seconds":0,"grace_period_seconds":60}`, "grace_period_seconds", "duplicate_field"},
		// Finding 8: query parameters an endpoint does not take, or given twice.
		{"patch ?dry_run", "PATCH", key + "?dry_run=true", `{"label":"changed"}`, "dry_run", "unknown_parameter"},
		{"revoke ?dry_run", "POST", key + "/revoke?dry_run=true", `{}`, "dry_run", "unknown_parameter"},
		{"roll ?grace_period_seconds", "POST", key + "/roll?grace_period_seconds=60", ``, "grace_period_seconds", "unknown_parameter"},
		{"create ?dry_run", "POST", "/v1/api-keys?dry_run=1", `{"label":"x"}`, "dry_run", "unknown_parameter"},
		{"get ?expand", "GET", key + "?expand=secret", ``, "expand", "unknown_parameter"},
		{"list ?limit twice", "GET", "/v1/api-keys?limit=1&limit=2", ``, "limit", "repeated_parameter"},
		{"list ?cursor empty twice", "GET", "/v1/api-keys?cursor=&cursor=", ``, "cursor", "repeated_parameter"},
		{"audit-events ?since twice", "GET", "/v1/audit-events?since=2026-01-01T00:00:00Z&since=2020-01-01T00:00:00Z", ``, "since", "repeated_parameter"},
		// Finding 9: characters people cannot see.
		{"create: bidi override label", "POST", "/v1/api-keys", `{"label":"prod \u202egnp.exe"}`, "label", "invalid_character"},
		{"patch: zero-width label", "PATCH", key, `{"label":"pro\u200bd"}`, "label", "invalid_character"},
		{"revoke: bidi override reason", "POST", key + "/revoke", `{"reason":"x \u202e"}`, "reason", "invalid_character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := a.snapshot("KeysTable", "OrgsTable")
			var body any
			if tt.body != "" {
				body = tt.body
			}
			r := a.do(tt.method, tt.path, admin, body)
			e, _ := r.Body["error"].(map[string]any)
			details, _ := e["details"].([]any)
			named := slices.ContainsFunc(details, func(d any) bool {
				m, _ := d.(map[string]any)
				return m["field"] == tt.field && m["issue"] == tt.issue
			})
			msg, _ := e["message"].(string)
			if r.Status != 400 || e["code"] != "validation_failed" || !named || !strings.Contains(msg, tt.field) {
				t.Fatalf("%d %s, want 400 validation_failed naming %s (%s)", r.Status, r.Raw, tt.field, tt.issue)
			}
			if after := a.snapshot("KeysTable", "OrgsTable"); !slices.Equal(before, after) {
				t.Fatalf("a refused request changed the tables:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
	// What an endpoint takes still works, once.
	if r := a.do("GET", "/v1/api-keys?limit=1&status=active", admin, nil); r.Status != 200 {
		t.Fatalf("list: %d %s", r.Status, r.Raw)
	}
	if r := a.do("PATCH", key, admin, `{"label":"renamed"}`); r.Status != 200 || r.Body["label"] != "renamed" {
		t.Fatalf("patch: %d %s", r.Status, r.Raw)
	}
}
