package localstack_test

import (
	"slices"
	"strings"
	"testing"
)

// Issue 8, findings 7–9, through the local gateway as a client sends them
// (query strings parsed by the gateway, repeated values in
// multiValueQueryStringParameters): each request is refused with a 400 that
// names the field or parameter, and no table has changed.
func TestStrictRequestsChangeNothing(t *testing.T) {
	h := newHarness(t)
	admin := h.token("org_a", "u_a", "admin")
	id, _ := h.createKey(admin, map[string]any{"label": "stable", "scopes": []string{"messages:read"}})
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
			before := h.snapshot("KeysTable", "OrgsTable")
			var body any
			if tt.body != "" {
				body = tt.body
			}
			r := h.do(tt.method, tt.path, admin, body)
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
			if after := h.snapshot("KeysTable", "OrgsTable"); !slices.Equal(before, after) {
				t.Fatalf("a refused request changed the tables:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
	// What an endpoint takes still works, once.
	if r := h.do("GET", "/v1/api-keys?limit=1&status=active", admin, nil); r.Status != 200 {
		t.Fatalf("list: %d %s", r.Status, r.Raw)
	}
	if r := h.do("PATCH", key, admin, `{"label":"renamed"}`); r.Status != 200 || r.Body["label"] != "renamed" {
		t.Fatalf("patch: %d %s", r.Status, r.Raw)
	}
}
