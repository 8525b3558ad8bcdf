package localstack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/flowella/apikeys/local/dynamotest"
	"github.com/flowella/apikeys/local/localsession"
	"github.com/flowella/apikeys/local/localstack"
	"github.com/flowella/apikeys/local/syncbuf"
	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/samtemplate"
	"github.com/flowella/apikeys/shared/session"
	"github.com/flowella/apikeys/shared/streamsclient"
)

const testSecret = "local-test-secret-0123456789abcdef0123"

type harness struct {
	t      *testing.T
	srv    *httptest.Server
	db     *dynamodb.Client
	tables dynamotest.Tables
	store  *keystore.Store
	logs   *syncbuf.Buffer
	access *syncbuf.Buffer
	dlq    *syncbuf.Buffer
	spec   *specChecker
	stack  *localstack.Stack
	// the session issuer and audience the stack checks, when configured
	issuer, audience string
}

// newHarness runs the local stack, built from template.yaml, on loopback
// over fresh DynamoDB Local tables, with organisations org_a and org_b.
func newHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessWith(t, nil)
}

// newHarnessWith is newHarness with more template parameters.
func newHarnessWith(t *testing.T, params map[string]string) *harness {
	t.Helper()
	db, tables := dynamotest.Setup(t)
	tpl, err := samtemplate.Load(dynamotest.TemplatePath(t))
	if err != nil {
		t.Fatal(err)
	}
	logs, access := &syncbuf.Buffer{}, &syncbuf.Buffer{}
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(logs, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	stack, err := localstack.Build(context.Background(), localstack.Config{
		Template:   tpl,
		DB:         db,
		TableName:  func(id string) string { return tables[id] },
		Parameters: withParams(map[string]string{"SessionHS256Secret": testSecret}, params),
		AccessLog:  access,
		Log:        slog.Default(),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(stack)
	t.Cleanup(srv.Close)
	store := keystore.New(db, tables["KeysTable"], tables["OrgsTable"])
	for org, plan := range map[string]string{"org_a": "paid", "org_b": "hobby", "org_c": "hobby"} {
		features := []string{"audit_log"}
		if org == "org_c" {
			features = nil
		}
		if err := store.SetOrg(context.Background(), org, plan, features); err != nil {
			t.Fatal(err)
		}
	}
	streams, err := streamsclient.New(context.Background(), os.Getenv("DYNAMODB_ENDPOINT"))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, srv: srv, db: db, tables: tables, store: store, logs: logs, access: access, dlq: &syncbuf.Buffer{}, stack: stack,
		spec: newSpecChecker(t, srv.URL), issuer: params["SessionIssuer"], audience: params["SessionAudience"]}
	t.Cleanup(func() { t.Logf("%d responses checked against api/openapi.yaml", h.spec.Checked()) })
	pollers, err := stack.Pollers(localstack.StreamOptions{Streams: streams, DeadLetter: h.dlq, Interval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, p := range pollers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.Run(ctx); err != nil {
				t.Errorf("poller: %v", err)
			}
		}()
	}
	// The access log's and the authorizer's lines to the key activity
	// function, through the template's subscription filters.
	stack.Logs.Interval = 50 * time.Millisecond
	wg.Add(1)
	go func() { defer wg.Done(); _ = stack.Logs.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return h
}

func withParams(base, more map[string]string) map[string]string {
	for k, v := range more {
		base[k] = v
	}
	return base
}

// accessLogged reports whether the access log has a line for this request
// made with the key of this prefix.
func (h *harness) accessLogged(method, path string, status int, prefix string) bool {
	for _, line := range strings.Split(h.access.String(), "\n") {
		// The template's format: every value a string, "-" when absent.
		var e struct {
			Method, Path, Status string
			KeyPrefix            string `json:"key_prefix"`
			KeyID                string `json:"key_id"`
		}
		if json.Unmarshal([]byte(line), &e) == nil && e.Method == method && e.Path == path &&
			e.Status == strconv.Itoa(status) && e.KeyPrefix == prefix && strings.HasPrefix(e.KeyID, "key_") {
			return true
		}
	}
	return false
}

func (h *harness) token(org, user, role string) string {
	h.t.Helper()
	tok, err := localsession.IssueHS256(testSecret, session.Principal{UserID: user, OrgID: org, Role: role}, time.Hour, h.issuer, h.audience)
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

type response struct {
	Status    int
	Body      map[string]any
	Raw       string
	RequestID string
	// ExtendedID is the gateway's own id of the request (x-amz-apigw-id),
	// which key activity is keyed on: a client can choose RequestID.
	ExtendedID string
}

func (h *harness) do(method, path, token string, body any) response {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "flowella-test/1.0")
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw := bodyCopy(resp)
	h.spec.check(h.t, req, resp, raw)
	out := response{Status: resp.StatusCode, Raw: string(raw), RequestID: resp.Header.Get("X-Amzn-RequestId"),
		ExtendedID: resp.Header.Get("x-amz-apigw-id")}
	_ = json.Unmarshal(raw, &out.Body)
	return out
}

func (h *harness) createKey(token string, body any) (id, secret string) {
	h.t.Helper()
	r := h.do("POST", "/v1/api-keys", token, body)
	if r.Status != http.StatusCreated {
		h.t.Fatalf("create: %d %s", r.Status, r.Raw)
	}
	return r.Body["id"].(string), r.Body["secret"].(string)
}

func TestSecretOnlyInCreateResponse(t *testing.T) {
	h := newHarness(t)
	admin := h.token("org_a", "u_admin", "admin")
	r := h.do("POST", "/v1/api-keys", admin, map[string]any{"label": "  CI deploys  ", "scopes": []string{"messages:send"}})
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Raw)
	}
	secret := r.Body["secret"].(string)
	id := r.Body["id"].(string)
	if len(secret) != 48 || !strings.HasPrefix(secret, "flwl_live_") || r.Body["prefix"] != secret[:16] {
		t.Fatalf("create body: %s", r.Raw)
	}
	if r.Body["label"] != "CI deploys" || r.Body["status"] != "active" || r.Body["last_used_at"] != nil || r.Body["created_by"] != "u_admin" {
		t.Fatalf("create body: %s", r.Raw)
	}
	// Use it once, so logs hold a request made with it.
	if u := h.do("POST", "/v1/messages", secret, map[string]any{}); u.Status != http.StatusOK {
		t.Fatalf("use: %d %s", u.Status, u.Raw)
	}
	get := h.do("GET", "/v1/api-keys/"+id, admin, nil)
	list := h.do("GET", "/v1/api-keys", admin, nil)
	scan, err := h.db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(h.tables["KeysTable"])})
	if err != nil {
		t.Fatal(err)
	}
	secretPart := secret[16:] // the prefix is meant to be shown
	for name, text := range map[string]string{
		"get": get.Raw, "list": list.Raw, "table": fmt.Sprintf("%#v", scan.Items),
		"logs": h.logs.String(), "access log": h.access.String(),
	} {
		if strings.Contains(text, secretPart) {
			t.Errorf("%s contains the secret", name)
		}
		if name != "table" && strings.Contains(text, "secret") && name != "logs" {
			t.Errorf("%s mentions a secret field: %s", name, text)
		}
	}
	if get.Status != 200 || get.Body["id"] != id || !strings.Contains(h.access.String(), id) {
		t.Fatalf("get: %d %s", get.Status, get.Raw)
	}
}

func TestRevokeThenUseIsUnauthorizedAtOnce(t *testing.T) {
	h := newHarness(t)
	admin := h.token("org_a", "u_admin", "owner")
	id, secret := h.createKey(admin, map[string]any{"label": "short-lived"})
	if r := h.do("GET", "/v1/whoami", secret, nil); r.Status != 200 || r.Body["key_id"] != id {
		t.Fatalf("whoami: %d %s", r.Status, r.Raw)
	}
	r := h.do("POST", "/v1/api-keys/"+id+"/revoke", admin, map[string]any{"reason": "leaked in a gist"})
	if r.Status != 200 || r.Body["status"] != "revoked" || r.Body["revoke_reason"] != "leaked in a gist" || r.Body["revoked_by"] != "u_admin" {
		t.Fatalf("revoke: %d %s", r.Status, r.Raw)
	}
	if r := h.do("GET", "/v1/whoami", secret, nil); r.Status != 401 || code(r) != "unauthorized" || r.Body["request_id"] != r.RequestID {
		t.Fatalf("use after revoke: %d %s", r.Status, r.Raw)
	}
}

func code(r response) string {
	e, _ := r.Body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func TestScopes(t *testing.T) {
	h := newHarness(t)
	admin := h.token("org_a", "u_admin", "admin")
	_, send := h.createKey(admin, map[string]any{"label": "sender", "scopes": []string{"messages:send"}})
	if r := h.do("POST", "/v1/messages", send, map[string]any{"to": "+15550100"}); r.Status != 200 {
		t.Fatalf("messages:send route: %d %s", r.Status, r.Raw)
	}
	if r := h.do("GET", "/v1/messages", send, nil); r.Status != 403 || code(r) != "forbidden" || r.Body["request_id"] != r.RequestID {
		t.Fatalf("messages:read route with messages:send key: %d %s", r.Status, r.Raw)
	} else if !h.accessLogged("GET", "/v1/messages", 403, send[:16]) {
		t.Fatalf("access log of a refused key request lacks the key:\n%s", h.access.String())
	}
	// No API route: API Gateway's MISSING_AUTHENTICATION_TOKEN, which the
	// template's GatewayResponses make a 404 in the project's format.
	if r := h.do("GET", "/v1/not-in-the-map", send, nil); r.Status != 404 || code(r) != "not_found" {
		t.Fatalf("unmapped route: %d %s", r.Status, r.Raw)
	}
	if r := h.do("GET", "/v1/api-keys", send, nil); r.Status != 403 {
		t.Fatalf("api key on admin endpoint: %d %s", r.Status, r.Raw)
	}

	// A wildcard key inherits its organisation's plan at request time.
	_, all := h.createKey(admin, map[string]any{"label": "everything", "scopes": []string{"*"}})
	if r := h.do("GET", "/v1/analytics/daily", all, nil); r.Status != 200 {
		t.Fatalf("paid plan analytics: %d %s", r.Status, r.Raw)
	}
	who := h.do("GET", "/v1/whoami", all, nil)
	if who.Status != 200 || len(who.Body["scopes"].([]any)) != 9 {
		t.Fatalf("whoami: %s", who.Raw)
	}
	hobby := h.token("org_b", "u_b", "owner")
	_, hob := h.createKey(hobby, map[string]any{"label": "hobbyist", "scopes": []string{"analytics:read", "messages:read"}})
	if r := h.do("GET", "/v1/analytics/daily", hob, nil); r.Status != 403 {
		t.Fatalf("scope outside the plan granted: %d %s", r.Status, r.Raw)
	}
	if r := h.do("GET", "/v1/messages", hob, nil); r.Status != 200 {
		t.Fatalf("hobby messages:read: %d %s", r.Status, r.Raw)
	}
}

func TestAdminEndpointsNeedOwnerOrAdmin(t *testing.T) {
	h := newHarness(t)
	id, _ := h.createKey(h.token("org_a", "u_admin", "admin"), map[string]any{"label": "k"})
	endpoints := []struct{ method, path string }{
		{"POST", "/v1/api-keys"},
		{"GET", "/v1/api-keys"},
		{"GET", "/v1/api-keys/" + id},
		{"PATCH", "/v1/api-keys/" + id},
		{"POST", "/v1/api-keys/" + id + "/revoke"},
		{"POST", "/v1/api-keys/" + id + "/roll"},
		{"GET", "/v1/audit-events"},
	}
	for _, role := range []string{"member", "read_only"} {
		tok := h.token("org_a", "u_"+role, role)
		for _, e := range endpoints {
			t.Run(role+" "+e.method+" "+e.path, func(t *testing.T) {
				r := h.do(e.method, e.path, tok, map[string]any{"label": "changed"})
				if r.Status != 403 {
					t.Fatalf("%d %s", r.Status, r.Raw)
				}
			})
		}
	}
	if r := h.do("GET", "/v1/api-keys/"+id, h.token("org_a", "u_admin", "admin"), nil); r.Body["label"] != "k" || r.Body["status"] != "active" {
		t.Fatalf("a refused request changed the key: %s", r.Raw)
	}
	for _, tok := range []string{"", "garbage", "a.b.c", h.token("org_a", "u", "admin") + "x"} {
		if r := h.do("GET", "/v1/api-keys", tok, nil); r.Status != 401 {
			t.Fatalf("token %q: %d %s", tok, r.Status, r.Raw)
		}
	}
}

func TestConcurrentRevokesOneWins(t *testing.T) {
	h := newHarness(t)
	admin := h.token("org_a", "u_a", "admin")
	id, _ := h.createKey(admin, map[string]any{"label": "contested"})
	statuses := make([]int, 2)
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = h.do("POST", "/v1/api-keys/"+id+"/revoke", admin, nil).Status
		}()
	}
	wg.Wait()
	if !(statuses[0] == 200 && statuses[1] == 409 || statuses[0] == 409 && statuses[1] == 200) {
		t.Fatalf("statuses %v, want one 200 and one 409", statuses)
	}
}

func TestLastUsedWrittenOncePerMinute(t *testing.T) {
	h := newHarness(t)
	admin := h.token("org_a", "u_a", "admin")
	id, secret := h.createKey(admin, map[string]any{"label": "busy"})
	for i := 0; i < 5; i++ {
		if r := h.do("GET", "/v1/whoami", secret, nil); r.Status != 200 {
			t.Fatalf("whoami: %d", r.Status)
		}
	}
	first := h.do("GET", "/v1/api-keys/"+id, admin, nil).Body["last_used_at"]
	if first == nil {
		t.Fatal("last_used_at not set after use")
	}
	time.Sleep(5 * time.Millisecond)
	h.do("GET", "/v1/whoami", secret, nil)
	if again := h.do("GET", "/v1/api-keys/"+id, admin, nil).Body["last_used_at"]; again != first {
		t.Fatalf("last_used_at rewritten within a minute: %v then %v", first, again)
	}
}
