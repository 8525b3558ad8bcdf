package adminapi_test

import (
	"context"
	"strings"
	"testing"

	"github.com/flowella/apikeys/shared/keystore"
)

// Bad input on every endpoint that takes a body or parameters: 400, 404,
// 413 or 415 with the project's error body, and nothing changed.
func TestBadInputIsRefusedAndChangesNothing(t *testing.T) {
	a := newAPI(t)
	admin := sessionOf("org_a", "u_a", "admin")
	id, _ := a.createKey(admin, map[string]any{"label": "stable", "scopes": []string{"contacts:read"}})
	long := strings.Repeat("x", 101)
	huge := `{"label":"` + strings.Repeat("y", 20000) + `"}`
	tests := []struct {
		name, method, path string
		body               any
		contentType        string
		status             int
		code               string
	}{
		{"malformed json", "POST", "/v1/api-keys", `{"label":`, "", 400, "validation_failed"},
		{"not an object", "POST", "/v1/api-keys", `["a"]`, "", 400, "validation_failed"},
		{"wrong type", "POST", "/v1/api-keys", `{"label":5}`, "", 400, "validation_failed"},
		{"unknown field", "POST", "/v1/api-keys", `{"label":"a","admin":true}`, "", 400, "validation_failed"},
		{"trailing data", "POST", "/v1/api-keys", `{"label":"a"}{"label":"b"}`, "", 400, "validation_failed"},
		{"missing label", "POST", "/v1/api-keys", `{}`, "", 400, "validation_failed"},
		{"blank label", "POST", "/v1/api-keys", `{"label":"   "}`, "", 400, "validation_failed"},
		{"long label", "POST", "/v1/api-keys", `{"label":"` + long + `"}`, "", 400, "validation_failed"},
		{"control character", "POST", "/v1/api-keys", `{"label":"a\nb"}`, "", 400, "validation_failed"},
		{"empty scopes", "POST", "/v1/api-keys", `{"label":"a","scopes":[]}`, "", 400, "validation_failed"},
		{"scopes not strings", "POST", "/v1/api-keys", `{"label":"a","scopes":[1]}`, "", 400, "validation_failed"},
		{"oversized body", "POST", "/v1/api-keys", huge, "", 413, "payload_too_large"},
		{"text body", "POST", "/v1/api-keys", `{"label":"a"}`, "text/plain", 415, "unsupported_media_type"},
		{"empty body", "POST", "/v1/api-keys", ``, "", 400, "validation_failed"},
		{"bad id", "GET", "/v1/api-keys/nope", nil, "", 404, "not_found"},
		{"bad limit", "GET", "/v1/api-keys?limit=0", nil, "", 400, "validation_failed"},
		{"limit too big", "GET", "/v1/api-keys?limit=101", nil, "", 400, "validation_failed"},
		{"bad status", "GET", "/v1/api-keys?status=deleted", nil, "", 400, "validation_failed"},
		{"bad cursor", "GET", "/v1/api-keys?cursor=abc", nil, "", 400, "validation_failed"},
		{"unknown parameter", "GET", "/v1/api-keys?sort=asc", nil, "", 400, "validation_failed"},
		{"empty patch", "PATCH", "/v1/api-keys/" + id, `{}`, "", 400, "validation_failed"},
		{"null scopes patch", "PATCH", "/v1/api-keys/" + id, `{"scopes":null}`, "", 400, "validation_failed"},
		{"unknown scope patch", "PATCH", "/v1/api-keys/" + id, `{"scopes":["root"]}`, "", 400, "validation_failed"},
		{"wildcard mixed", "PATCH", "/v1/api-keys/" + id, `{"scopes":["*","contacts:read"]}`, "", 400, "validation_failed"},
		{"long reason", "POST", "/v1/api-keys/" + id + "/revoke", `{"reason":"` + strings.Repeat("r", 501) + `"}`, "", 400, "validation_failed"},
		{"revoke unknown field", "POST", "/v1/api-keys/" + id + "/revoke", `{"why":"x"}`, "", 400, "validation_failed"},
		{"well-formed unknown id", "GET", "/v1/api-keys/" + keystore.NewID(), nil, "", 404, "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var headers map[string]string
			if tt.contentType != "" {
				headers = map[string]string{"Content-Type": tt.contentType}
			}
			r := a.send(tt.method, tt.path, admin, tt.body, headers)
			msg, _ := r.Body["error"].(map[string]any)["message"].(string)
			if r.Status != tt.status || r.code() != tt.code || msg == "" || r.Body["request_id"] == "" {
				t.Fatalf("%d %s", r.Status, r.Raw)
			}
		})
	}
	k, _ := a.store.Get(context.Background(), "org_a", id)
	if k.Label != "stable" || k.Status != keystore.StatusActive || len(k.Scopes) != 1 {
		t.Fatalf("bad input changed the key: %+v", k)
	}
	if r := a.do("GET", "/v1/api-keys", admin, nil); len(r.Body["items"].([]any)) != 1 {
		t.Fatalf("bad input created keys: %s", r.Raw)
	}
}

// allowed_ips: canonical CIDRs in answers; bad entries named, every one;
// at most 50; lifted with an empty list.
func TestAllowedIPsAreCanonicalAndChecked(t *testing.T) {
	a := newAPI(t)
	admin := sessionOf("org_a", "u_a", "admin")
	r := a.do("POST", "/v1/api-keys", admin, map[string]any{"label": "office", "allowed_ips": []string{"127.0.0.1", "::1", "10.1.2.3/8"}})
	if r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Raw)
	}
	if ips := stringsOf(r.Body["allowed_ips"]); strings.Join(ips, ",") != "127.0.0.1/32,::1/128,10.0.0.0/8" {
		t.Fatalf("allowed_ips not canonical: %v", ips)
	}
	id := r.Body["id"].(string)
	r = a.do("PATCH", "/v1/api-keys/"+id, admin, map[string]any{"allowed_ips": []string{"300.1.1.1", "10.0.0.0/33", "127.0.0.1"}})
	if r.Status != 400 || !strings.Contains(r.Raw, "300.1.1.1") || !strings.Contains(r.Raw, "10.0.0.0/33") {
		t.Fatalf("bad entries: %d %s", r.Status, r.Raw)
	}
	for _, body := range []string{`{"allowed_ips":"127.0.0.1"}`, `{"allowed_ips":null}`, `{"allowed_ips":[1]}`} {
		if r := a.do("PATCH", "/v1/api-keys/"+id, admin, body); r.Status != 400 {
			t.Fatalf("%s: %d", body, r.Status)
		}
	}
	many := make([]string, 51)
	for i := range many {
		many[i] = "192.0.2.1"
	}
	if r := a.do("POST", "/v1/api-keys", admin, map[string]any{"label": "x", "allowed_ips": many}); r.Status != 400 {
		t.Fatalf("51 entries: %d", r.Status)
	}
	if r := a.do("PATCH", "/v1/api-keys/"+id, admin, map[string]any{"allowed_ips": []string{}}); r.Status != 200 || len(r.Body["allowed_ips"].([]any)) != 0 {
		t.Fatalf("lift: %d %s", r.Status, r.Raw)
	}
}

// channels: deduplicated in answers; bad ids named; lifted with an empty list.
func TestChannelsAreCleanedAndChecked(t *testing.T) {
	a := newAPI(t)
	admin := sessionOf("org_a", "u_a", "admin")
	id, _ := a.createKey(admin, map[string]any{"label": "one number", "scopes": []string{"messages:send"}, "channels": []string{"ch_1", "ch_1", "wa-2"}})
	if r := a.do("GET", "/v1/api-keys/"+id, admin, nil); strings.Join(stringsOf(r.Body["channels"]), ",") != "ch_1,wa-2" {
		t.Fatalf("channels: %s", r.Raw)
	}
	r := a.do("PATCH", "/v1/api-keys/"+id, admin, map[string]any{"channels": []string{"ok_1", "bad id", "", strings.Repeat("x", 65)}})
	if r.Status != 400 || !strings.Contains(r.Raw, "bad id") {
		t.Fatalf("bad channels: %d %s", r.Status, r.Raw)
	}
	if r := a.do("PATCH", "/v1/api-keys/"+id, admin, map[string]any{"channels": []string{}}); r.Status != 200 || len(stringsOf(r.Body["channels"])) != 0 {
		t.Fatalf("lift: %d %s", r.Status, r.Raw)
	}
}
