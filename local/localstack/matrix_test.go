package localstack_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/flowella/apikeys/local/localsession"
	"github.com/flowella/apikeys/shared/session"
)

const (
	matrixIssuer   = "https://id.flowella.test"
	matrixAudience = "flowella-admin"
)

// snapshot is every item of the tables an admin request could change, as
// JSON, without last_used_at (an API key credential's own use sets it).
func (h *harness) snapshot(tables ...string) []string {
	h.t.Helper()
	var out []string
	for _, id := range tables {
		res, err := h.db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(h.tables[id]), ConsistentRead: aws.Bool(true)})
		if err != nil {
			h.t.Fatal(err)
		}
		for _, it := range res.Items {
			var m map[string]any
			if err := attributevalue.UnmarshalMap(it, &m); err != nil {
				h.t.Fatal(err)
			}
			delete(m, "last_used_at")
			b, _ := json.Marshal(m)
			out = append(out, id+" "+string(b))
		}
	}
	slices.Sort(out)
	return out
}

func unsignedToken(claims map[string]any) string {
	enc := base64.RawURLEncoding
	head, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT"})
	body, _ := json.Marshal(claims)
	return enc.EncodeToString(head) + "." + enc.EncodeToString(body) + "."
}

// Every admin endpoint against every kind of caller that must be refused:
// each refusal has the status and code the contract names, and nothing
// changes in any table.
func TestRoleTenantCredentialMatrix(t *testing.T) {
	h := newHarnessWith(t, map[string]string{"SessionIssuer": matrixIssuer, "SessionAudience": matrixAudience})
	token := func(org, role string, ttl time.Duration, secret, iss, aud string) string {
		tok, err := localsession.IssueHS256(secret, session.Principal{UserID: "u_" + role + "_" + org, OrgID: org, Role: role}, ttl, iss, aud)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	valid := func(org, role string) string {
		return token(org, role, time.Hour, testSecret, matrixIssuer, matrixAudience)
	}
	ownerA := valid("org_a", "owner")
	id, _ := h.createKey(ownerA, map[string]any{"label": "target"})
	_, apiKey := h.createKey(ownerA, map[string]any{"label": "credential"})

	endpoints := []struct {
		method, path string
		body         any
		byID         bool
	}{
		{"POST", "/v1/api-keys", map[string]any{"label": "intruder"}, false},
		{"GET", "/v1/api-keys", nil, false},
		{"GET", "/v1/api-keys/" + id, nil, true},
		{"PATCH", "/v1/api-keys/" + id, map[string]any{"label": "renamed"}, true},
		{"POST", "/v1/api-keys/" + id + "/revoke", map[string]any{"reason": "matrix"}, true},
		{"POST", "/v1/api-keys/" + id + "/roll", map[string]any{}, true},
		{"GET", "/v1/audit-events", nil, false},
	}
	type caller struct {
		name, token string
		status      int
		code        string
		byIDOnly    bool // refused only on another organisation's key
	}
	now := time.Now()
	callers := []caller{
		{"member", valid("org_a", "member"), 403, "forbidden", false},
		{"read_only", valid("org_a", "read_only"), 403, "forbidden", false},
		{"owner of another organisation", valid("org_b", "owner"), 404, "not_found", true},
		{"admin of another organisation", valid("org_b", "admin"), 404, "not_found", true},
		{"api key", apiKey, 403, "forbidden", false},
		{"expired session", token("org_a", "owner", -time.Minute, testSecret, matrixIssuer, matrixAudience), 401, "unauthorized", false},
		{"forged signature", token("org_a", "owner", time.Hour, "another-secret-0123456789abcdef0123456", matrixIssuer, matrixAudience), 401, "unauthorized", false},
		{"alg none", unsignedToken(map[string]any{"sub": "u_x", "org_id": "org_a", "role": "owner", "iss": matrixIssuer,
			"aud": matrixAudience, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}), 401, "unauthorized", false},
		{"wrong issuer", token("org_a", "owner", time.Hour, testSecret, "https://evil.test", matrixAudience), 401, "unauthorized", false},
		{"wrong audience", token("org_a", "owner", time.Hour, testSecret, matrixIssuer, "another-app"), 401, "unauthorized", false},
		{"no issuer or audience", token("org_a", "owner", time.Hour, testSecret, "", ""), 401, "unauthorized", false},
		{"a key as a session token's shape", "flwl_live_" + strings.Repeat("A", 38), 401, "unauthorized", false},
	}
	h.waitAudit("org_a", 2) // the two creates' records, before the snapshot
	tables := []string{"KeysTable", "AuditTable", "OrgsTable"}
	before := h.snapshot(tables...)
	refusals := 0
	for _, c := range callers {
		for _, e := range endpoints {
			if c.byIDOnly && !e.byID {
				continue
			}
			t.Run(c.name+" "+e.method+" "+strings.Replace(e.path, id, "{id}", 1), func(t *testing.T) {
				r := h.do(e.method, e.path, c.token, e.body)
				if r.Status != c.status || code(r) != c.code {
					t.Fatalf("%d %s, want %d %s", r.Status, r.Raw, c.status, c.code)
				}
				refusals++
			})
		}
	}
	// Another organisation's list does not show the key either.
	list := h.do("GET", "/v1/api-keys", valid("org_b", "owner"), nil)
	if list.Status != http.StatusOK || strings.Contains(list.Raw, id) {
		t.Fatalf("org_b's list: %d %s", list.Status, list.Raw)
	}
	// Give a stray audit record, had any request changed a key, time to land.
	time.Sleep(300 * time.Millisecond)
	if after := h.snapshot(tables...); !slices.Equal(before, after) {
		t.Fatalf("refused requests changed the tables:\nbefore %v\nafter  %v", before, after)
	}
	t.Logf("%d refusals checked, tables unchanged", refusals)
	// The same endpoints work for the owner, so the refusals above were not
	// refusals of everything.
	if r := h.do("GET", "/v1/api-keys/"+id, ownerA, nil); r.Status != http.StatusOK {
		t.Fatalf("owner: %d %s", r.Status, r.Raw)
	}
}
