package adminapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/flowella/apikeys/local/dynamofault"
	"github.com/flowella/apikeys/local/dynamotest"
)

// The statuses every admin endpoint answers alike, one case each: 401 with
// no authorizer context, 403 for a credential the route map does not let
// manage keys, and 503 with Retry-After when DynamoDB throttles. The
// statuses particular to an endpoint are beside it (create_test.go, …).

// adminRequest is one request per admin endpoint, on key id.
func adminRequests(id string) []struct{ method, path, body string } {
	return []struct{ method, path, body string }{
		{"POST", "/v1/api-keys", `{"label":"k"}`},
		{"GET", "/v1/api-keys", ""},
		{"GET", "/v1/api-keys/" + id, ""},
		{"PATCH", "/v1/api-keys/" + id, `{"label":"changed"}`},
		{"POST", "/v1/api-keys/" + id + "/revoke", `{}`},
		{"POST", "/v1/api-keys/" + id + "/roll", `{}`},
		{"GET", "/v1/audit-events", ""},
		{"GET", "/v1/api-keys/" + id + "/activity", ""},
		{"GET", "/v1/api-keys/" + id + "/usage", ""},
		{"GET", "/v1/api-keys/" + id + "/exposure", ""},
	}
}

func body(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func TestEveryEndpointRefusesWhomTheRouteMapRefuses(t *testing.T) {
	a := newAPI(t)
	admin := sessionOf("org_a", "u_admin", "admin")
	id, _ := a.createKey(admin, map[string]any{"label": "k"})
	callers := []struct {
		name   string
		who    caller
		status int
		code   string
	}{
		{"no authorizer context", nil, 401, "unauthorized"},
		{"session without a user", caller{"principal_type": "session", "org_id": "org_a", "role": "admin"}, 401, "unauthorized"},
		{"unknown principal type", caller{"principal_type": "robot", "org_id": "org_a", "user_id": "u"}, 401, "unauthorized"},
		{"api key", apiKeyOf("org_a", id), 403, "forbidden"},
		{"member", sessionOf("org_a", "u_m", "member"), 403, "forbidden"},
		{"read_only", sessionOf("org_a", "u_r", "read_only"), 403, "forbidden"},
		{"session without an organisation", caller{"principal_type": "session", "user_id": "u_admin", "role": "admin"}, 401, "unauthorized"},
		{"session with an unknown role", sessionOf("org_a", "u_x", "superadmin"), 403, "forbidden"},
		{"session with a role in another case", sessionOf("org_a", "u_x", "Admin"), 403, "forbidden"},
		{"session without a role", caller{"principal_type": "session", "org_id": "org_a", "user_id": "u_x"}, 403, "forbidden"},
	}
	before := a.snapshot("KeysTable", "OrgsTable", "IdempotencyTable")
	for _, c := range callers {
		for _, r := range adminRequests(id) {
			t.Run(c.name+" "+r.method+" "+r.path, func(t *testing.T) {
				got := a.do(r.method, r.path, c.who, body(r.body))
				if got.Status != c.status || got.code() != c.code {
					t.Fatalf("%d %s, want %d %s", got.Status, got.Raw, c.status, c.code)
				}
			})
		}
	}
	if after := a.snapshot("KeysTable", "OrgsTable", "IdempotencyTable"); strings.Join(before, "\n") != strings.Join(after, "\n") {
		t.Fatal("refused requests changed the tables")
	}
	// The same requests of an owner and an admin are served.
	for _, who := range []caller{sessionOf("org_a", "u_o", "owner"), admin} {
		for _, r := range adminRequests(id)[:4] {
			if got := a.do(r.method, r.path, who, body(r.body)); got.Status >= 400 {
				t.Fatalf("%v %s %s: %d %s", who["role"], r.method, r.path, got.Status, got.Raw)
			}
		}
	}
}

// A DynamoDB that throttles every attempt is 503 unavailable with
// Retry-After on every endpoint: the client may retry, nothing was changed.
func TestEveryEndpointIsUnavailableWhileDynamoDBThrottles(t *testing.T) {
	db, tables := dynamotest.Setup(t)
	faults := dynamofault.New(dynamofault.Config{})
	faulty := dynamodb.New(db.Options(), faults.Option(), func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	a := newAPIOn(t, db, tables, faulty)
	admin := sessionOf("org_a", "u_admin", "admin")
	id, _ := a.createKey(admin, map[string]any{"label": "k"})
	before := a.snapshot("KeysTable", "OrgsTable", "IdempotencyTable")
	for _, r := range adminRequests(id) {
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			faults.ThrottleNext(1000)
			defer faults.ThrottleNext(0)
			got := a.do(r.method, r.path, admin, body(r.body))
			if got.Status != http.StatusServiceUnavailable || got.code() != "unavailable" || got.Headers["Retry-After"] == "" {
				t.Fatalf("%d %v %s", got.Status, got.Headers, got.Raw)
			}
		})
	}
	if after := a.snapshot("KeysTable", "OrgsTable", "IdempotencyTable"); strings.Join(before, "\n") != strings.Join(after, "\n") {
		t.Fatal("requests answered 503 changed the tables")
	}
}
