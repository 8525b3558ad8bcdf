package adminapi_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/flowella/apikeys/local/dynamotest"
	"github.com/flowella/apikeys/shared/adminapi"
	"github.com/flowella/apikeys/shared/apikey"
	"github.com/flowella/apikeys/shared/authz"
	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/stamp"
)

// sampleEvent reads one of the repository's sample API Gateway events.
func sampleEvent(t *testing.T, name string) events.APIGatewayProxyRequest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(filepath.Dir(dynamotest.TemplatePath(t)), "events", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayProxyRequest
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// invoke calls h through the Lambda JSON path, as the Lambda runtime does.
func invoke(t *testing.T, h adminapi.Proxy, ev events.APIGatewayProxyRequest) (int, map[string]any) {
	t.Helper()
	payload, _ := json.Marshal(ev)
	out, err := lambda.NewHandler(h).Invoke(context.Background(), payload)
	if err != nil {
		t.Fatal(err)
	}
	var resp events.APIGatewayProxyResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
		t.Fatalf("body is not JSON: %q", resp.Body)
	}
	if resp.Headers["Content-Type"] != "application/json" || resp.Headers["Cache-Control"] != "no-store" {
		t.Fatalf("headers: %v", resp.Headers)
	}
	return resp.StatusCode, body
}

func newHandlers(t *testing.T) *adminapi.Handlers {
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
	return &adminapi.Handlers{Store: store, Catalog: catalog, Env: apikey.EnvLive}
}

func TestSampleEventsThroughTheLambdaJSONPath(t *testing.T) {
	h := newHandlers(t)
	status, created := invoke(t, h.Create(), sampleEvent(t, "create-key"))
	if status != 201 || created["label"] != "n8n production" || created["created_by"] != "u_demo_admin" {
		t.Fatalf("create: %d %v", status, created)
	}
	secret := created["secret"].(string)
	if _, err := apikey.Parse(secret, apikey.EnvLive); err != nil {
		t.Fatalf("secret does not parse: %v", err)
	}
	id := created["id"].(string)

	withID := func(ev events.APIGatewayProxyRequest) events.APIGatewayProxyRequest {
		ev.PathParameters = map[string]string{"id": id}
		ev.Path = strings.Replace(ev.Path, "key_01KMZ0000000000000000000AB", id, 1)
		return ev
	}
	status, got := invoke(t, h.Get(), withID(sampleEvent(t, "get-key")))
	if status != 200 || got["id"] != id || got["secret"] != nil {
		t.Fatalf("get: %d %v", status, got)
	}
	status, updated := invoke(t, h.Update(), withID(sampleEvent(t, "update-key")))
	if status != 200 || updated["label"] != "n8n (staging)" {
		t.Fatalf("update: %d %v", status, updated)
	}
	status, list := invoke(t, h.List(), sampleEvent(t, "list-keys"))
	if status != 200 || len(list["items"].([]any)) != 1 || list["next_cursor"] != nil {
		t.Fatalf("list: %d %v", status, list)
	}
	status, revoked := invoke(t, h.Revoke(), withID(sampleEvent(t, "revoke-key")))
	if status != 200 || revoked["status"] != "revoked" || revoked["revoke_reason"] != "leaked in a public repo" {
		t.Fatalf("revoke: %d %v", status, revoked)
	}

	// The stored item carries the actor and trace context of the last change.
	k, err := h.Store.Get(context.Background(), "org_demo", id)
	if err != nil {
		t.Fatal(err)
	}
	c := k.LastChange
	if c == nil || c.Op != keystore.OpRevoke || c.Actor.UserID != "u_demo_admin" || c.Actor.IP != "203.0.113.7" ||
		c.Actor.UserAgent != "curl/8.5.0" || c.Trace.RequestID != "c6af9ac6-7b61-11e6-9a41-93e8deadbeef" ||
		!strings.HasPrefix(c.Trace.XRayTraceID, "Root=1-") || !strings.HasPrefix(c.Trace.TraceParent, "00-4bf92f") {
		t.Fatalf("last change: %+v", c)
	}
}

func TestAdminHandlersRefuseWithoutAdminSession(t *testing.T) {
	h := newHandlers(t)
	cases := []struct {
		name   string
		auth   map[string]any
		status int
	}{
		{"no authorizer context", nil, 401},
		{"api key", map[string]any{"principal_type": "api_key", "org_id": "org_demo", "key_id": "key_x"}, 403},
		{"member", map[string]any{"principal_type": "session", "org_id": "org_demo", "user_id": "u", "role": "member"}, 403},
		{"read_only", map[string]any{"principal_type": "session", "org_id": "org_demo", "user_id": "u", "role": "read_only"}, 403},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev := sampleEvent(t, "create-key")
			ev.RequestContext.Authorizer = c.auth
			status, body := invoke(t, h.Create(), ev)
			if status != c.status || body["request_id"] == nil {
				t.Fatalf("%d %v", status, body)
			}
		})
	}
}

func TestHygieneFlags(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) stamp.Time { return stamp.Of(now.Add(-d)) }
	day := 24 * time.Hour
	tests := []struct {
		name string
		key  keystore.Key
		want string
	}{
		{"fresh", keystore.Key{Status: keystore.StatusActive, CreatedAt: at(day), LastUsedAt: at(time.Hour)}, ""},
		{"never used for 91 days", keystore.Key{Status: keystore.StatusActive, CreatedAt: at(91 * day)}, "unused_90_days"},
		{"used 89 days ago", keystore.Key{Status: keystore.StatusActive, CreatedAt: at(200 * day), LastUsedAt: at(89 * day)}, ""},
		{"old and idle", keystore.Key{Status: keystore.StatusActive, CreatedAt: at(400 * day), LastUsedAt: at(100 * day)}, "older_than_12_months,unused_90_days"},
		{"old but busy", keystore.Key{Status: keystore.StatusActive, CreatedAt: at(400 * day), LastUsedAt: at(day)}, "older_than_12_months"},
		{"revoked keys are not flagged", keystore.Key{Status: keystore.StatusRevoked, CreatedAt: at(400 * day)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &adminapi.Handlers{Now: func() time.Time { return now }}
			if got := strings.Join(adminapi.HygieneFlags(h, tt.key), ","); got != tt.want {
				t.Fatalf("flags %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCleanAllowedIPs(t *testing.T) {
	tests := []struct {
		in   []string
		want string // joined, or "error"
	}{
		{nil, ""},
		{[]string{"203.0.113.7"}, "203.0.113.7/32"},
		{[]string{" 203.0.113.7/24 ", "203.0.113.0/24"}, "203.0.113.0/24"},
		{[]string{"2001:DB8::1/32"}, "2001:db8::/32"},
		{[]string{"::ffff:198.51.100.1"}, "198.51.100.1/32"},
		{[]string{"::ffff:198.51.100.0/120"}, "198.51.100.0/24"},
		{[]string{"::ffff:0.0.0.0/64"}, "error"},
		{[]string{"10.0.0.0/33"}, "error"},
		{[]string{"localhost"}, "error"},
		{[]string{""}, "error"},
	}
	for _, tt := range tests {
		got, err := adminapi.CleanAllowedIPs(tt.in)
		s := strings.Join(got, ",")
		if err != nil {
			s = "error"
		}
		if s != tt.want {
			t.Errorf("%q: got %q, want %q", tt.in, s, tt.want)
		}
	}
}
