package adminapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/flowella/apikeys/local/dynamotest"
	"github.com/flowella/apikeys/local/syncbuf"
	"github.com/flowella/apikeys/shared/activity"
	"github.com/flowella/apikeys/shared/adminapi"
	"github.com/flowella/apikeys/shared/apikey"
	"github.com/flowella/apikeys/shared/audit"
	"github.com/flowella/apikeys/shared/authz"
	"github.com/flowella/apikeys/shared/keystore"
)

// apiHarness is every admin endpoint on DynamoDB Local, invoked as API
// Gateway invokes it once the authorizer has let a request through: the
// request becomes the proxy event of the route it resolves to in the route
// map, carrying the caller's authorizer context, and goes through the Lambda
// JSON path. Each answer of a documented operation is checked against
// api/openapi.yaml. Organisations: org_a (paid, audit_log), org_b (hobby,
// audit_log), org_c (hobby, no features).
type apiHarness struct {
	t      *testing.T
	db     *dynamodb.Client
	tables dynamotest.Tables
	store  *keystore.Store
	h      *adminapi.Handlers
	spec   *specChecker
	logs   *syncbuf.Buffer // the handlers' JSON log lines
	// proxies maps "METHOD /resource" of the route map to its handler.
	proxies map[string]adminapi.Proxy
	// SourceIP is the caller's address in the events (203.0.113.7 unless set).
	SourceIP string
	reqs     atomic.Int64
}

func newAPI(t *testing.T) *apiHarness {
	t.Helper()
	db, tables := dynamotest.Setup(t)
	return newAPIOn(t, db, tables, db)
}

// newAPIOn builds the handlers on handlerDB (a client with injected faults,
// say) while the harness itself reads and seeds through db.
func newAPIOn(t *testing.T, db *dynamodb.Client, tables dynamotest.Tables, handlerDB *dynamodb.Client) *apiHarness {
	t.Helper()
	store := keystore.New(db, tables["KeysTable"], tables["OrgsTable"])
	for org, plan := range map[string]string{"org_a": "paid", "org_b": "hobby", "org_c": "hobby"} {
		features := []string{adminapi.AuditFeature}
		if org == "org_c" {
			features = nil
		}
		if err := store.SetOrg(context.Background(), org, plan, features); err != nil {
			t.Fatal(err)
		}
	}
	catalog, err := authz.Load()
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncbuf.Buffer{}
	h := &adminapi.Handlers{
		Log:      slog.New(slog.NewJSONHandler(logs, nil)),
		Store:    keystore.New(handlerDB, tables["KeysTable"], tables["OrgsTable"]).WithIdempotency(tables["IdempotencyTable"]),
		Catalog:  catalog,
		Env:      apikey.EnvLive,
		Audit:    audit.Log{DB: handlerDB, Table: tables["AuditTable"]},
		Activity: activity.Log{DB: handlerDB, Table: tables["ActivityTable"]},
	}
	a := &apiHarness{t: t, logs: logs, db: db, tables: tables, store: store, h: h, spec: newSpecChecker(t), SourceIP: "203.0.113.7",
		proxies: proxiesOf(h)}

	t.Cleanup(func() { t.Logf("%d responses checked against api/openapi.yaml", a.spec.Checked()) })
	return a
}

// proxiesOf maps each admin route of the route map, "METHOD /resource", to
// its handler.
func proxiesOf(h *adminapi.Handlers) map[string]adminapi.Proxy {
	return map[string]adminapi.Proxy{
		"POST /v1/api-keys":              h.Create(),
		"GET /v1/api-keys":               h.List(),
		"GET /v1/api-keys/{id}":          h.Get(),
		"PATCH /v1/api-keys/{id}":        h.Update(),
		"POST /v1/api-keys/{id}/revoke":  h.Revoke(),
		"POST /v1/api-keys/{id}/roll":    h.Roll(),
		"GET /v1/api-keys/{id}/activity": h.KeyActivity(),
		"GET /v1/api-keys/{id}/usage":    h.KeyUsage(),
		"GET /v1/api-keys/{id}/exposure": h.KeyExposure(),
		"GET /v1/audit-events":           h.AuditEvents(),
	}
}

// caller is the authorizer context a backend receives. sessionOf and
// apiKeyOf are the one place that writes it: a change of its encoding is
// adapted there.
type caller map[string]any

func sessionOf(org, user, role string) caller {
	return caller{"principal_type": "session", "org_id": org, "user_id": user, "role": role}
}

func apiKeyOf(org, keyID string) caller {
	return caller{"principal_type": "api_key", "org_id": org, "key_id": keyID, "key_prefix": "flwl_live_abcdef",
		"scopes": "messages:send"}
}

// apiResponse is an endpoint's answer.
type apiResponse struct {
	Status  int
	Headers map[string]string
	Body    map[string]any
	Raw     string
}

func (r apiResponse) code() string {
	e, _ := r.Body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// do sends method path (with its query string) as who, with body (a string
// sent as it is, anything else as JSON; nil for none).
func (a *apiHarness) do(method, path string, who caller, body any) apiResponse {
	a.t.Helper()
	return a.send(method, path, who, body, nil)
}

// send is do with more request headers (several values of one header
// separated by "\n").
func (a *apiHarness) send(method, path string, who caller, body any, headers map[string]string) apiResponse {
	a.t.Helper()
	ev := a.event(method, path, who, body, headers)
	payload, err := json.Marshal(ev)
	if err != nil {
		a.t.Fatal(err)
	}
	proxy := a.proxies[method+" "+ev.Resource]
	out, err := lambda.NewHandler(proxy).Invoke(context.Background(), payload)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	var resp events.APIGatewayProxyResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		a.t.Fatal(err)
	}
	r := apiResponse{Status: resp.StatusCode, Headers: resp.Headers, Raw: resp.Body}
	if err := json.Unmarshal([]byte(resp.Body), &r.Body); err != nil {
		a.t.Fatalf("%s %s: body is not a JSON object: %q", method, path, resp.Body)
	}
	if resp.Headers["Content-Type"] != "application/json" || resp.Headers["Cache-Control"] != "no-store" {
		a.t.Fatalf("%s %s: headers %v", method, path, resp.Headers)
	}
	if r.Status >= 400 && (r.Body["request_id"] != ev.RequestContext.RequestID || r.code() == "") {
		a.t.Fatalf("%s %s: an error without its code or this request's id: %s", method, path, resp.Body)
	}
	a.spec.check(a.t, ev, resp)
	return r
}

// event is the proxy event API Gateway sends for the request: the route it
// resolved, its path parameters, the query string (the last value of each
// parameter in queryStringParameters, all of them in the multi-value map),
// the headers, the caller's address and the authorizer context.
func (a *apiHarness) event(method, path string, who caller, body any, headers map[string]string) events.APIGatewayProxyRequest {
	a.t.Helper()
	u, err := url.Parse(path)
	if err != nil {
		a.t.Fatal(err)
	}
	route, params, ok := a.h.Catalog.Match(method, u.Path)
	if !ok || a.proxies[method+" "+route.Path] == nil {
		a.t.Fatalf("%s %s is not an admin route", method, u.Path)
	}
	var raw string
	switch b := body.(type) {
	case nil:
	case string:
		raw = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			a.t.Fatal(err)
		}
		raw = string(j)
	}
	all := map[string][]string{"User-Agent": {"flowella-test/1.0"},
		"traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}
	if body != nil {
		all["Content-Type"] = []string{"application/json"}
	}
	for name, v := range headers {
		all[name] = strings.Split(v, "\n")
	}
	ev := events.APIGatewayProxyRequest{
		Resource:          route.Path,
		Path:              u.Path,
		HTTPMethod:        method,
		Headers:           map[string]string{},
		MultiValueHeaders: all,
		PathParameters:    params,
		Body:              raw,
		RequestContext: events.APIGatewayProxyRequestContext{
			RequestID:    fmt.Sprintf("req-%d", a.reqs.Add(1)),
			ResourcePath: route.Path,
			HTTPMethod:   method,
			Path:         "/prod" + u.Path,
			Stage:        "prod",
			Identity:     events.APIGatewayRequestIdentity{SourceIP: a.SourceIP, UserAgent: "flowella-test/1.0"},
		},
	}
	if who != nil {
		ev.RequestContext.Authorizer = map[string]any(who)
	}
	for name, vs := range all {
		ev.Headers[name] = vs[len(vs)-1]
	}
	if q := u.Query(); len(q) > 0 {
		ev.QueryStringParameters = map[string]string{}
		ev.MultiValueQueryStringParameters = map[string][]string(q)
		for name, vs := range q {
			ev.QueryStringParameters[name] = vs[len(vs)-1]
		}
	}
	return ev
}

// createKey creates a key as who and returns its id and secret.
func (a *apiHarness) createKey(who caller, body any) (id, secret string) {
	a.t.Helper()
	r := a.do("POST", "/v1/api-keys", who, body)
	if r.Status != http.StatusCreated {
		a.t.Fatalf("create: %d %s", r.Status, r.Raw)
	}
	return r.Body["id"].(string), r.Body["secret"].(string)
}

// keyIDs lists the ids of an organisation's keys, revoked ones included.
func (a *apiHarness) keyIDs(who caller) []string {
	a.t.Helper()
	r := a.do("GET", "/v1/api-keys?limit=100", who, nil)
	if r.Status != 200 {
		a.t.Fatalf("list: %d %s", r.Status, r.Raw)
	}
	var ids []string
	for _, it := range r.Body["items"].([]any) {
		ids = append(ids, it.(map[string]any)["id"].(string))
	}
	return ids
}

// snapshot is every item of the named tables, as JSON, in a stable order.
func (a *apiHarness) snapshot(tables ...string) []string {
	a.t.Helper()
	var out []string
	for _, name := range tables {
		scan, err := a.db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(a.tables[name]), ConsistentRead: aws.Bool(true)})
		if err != nil {
			a.t.Fatal(err)
		}
		for _, it := range scan.Items {
			var m map[string]any
			if err := attributevalue.UnmarshalMap(it, &m); err != nil {
				a.t.Fatal(err)
			}
			b, _ := json.Marshal(m)
			out = append(out, name+" "+string(b))
		}
	}
	slices.Sort(out)
	return out
}

// expireNow sets the key's expiry to now, as time passing would.
func (a *apiHarness) expireNow(org, id string) {
	a.t.Helper()
	k, err := a.store.Get(context.Background(), org, id)
	if err != nil {
		a.t.Fatal(err)
	}
	if _, err := a.db.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
		TableName:                 aws.String(a.tables["KeysTable"]),
		Key:                       map[string]types.AttributeValue{"key_hash": &types.AttributeValueMemberS{Value: k.Hash}},
		UpdateExpression:          aws.String("SET expires_at = :t"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberS{Value: keystore.FormatTime(time.Now())}},
	}); err != nil {
		a.t.Fatal(err)
	}
}

func stringsOf(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		out = append(out, x.(string))
	}
	return out
}

// Every admin route of the route map has its handler here, and no other
// route: the harness serves what the template routes to the admin functions.
func TestHarnessServesEveryAdminRoute(t *testing.T) {
	catalog, err := authz.Load()
	if err != nil {
		t.Fatal(err)
	}
	var routes []string
	for _, r := range catalog.Routes {
		if r.Auth == authz.AuthSession {
			routes = append(routes, r.Method+" "+r.Path)
		}
	}
	var served []string
	for name := range proxiesOf(&adminapi.Handlers{}) {
		served = append(served, name)
	}
	slices.Sort(routes)
	slices.Sort(served)
	if !slices.Equal(routes, served) {
		t.Fatalf("route map's admin routes %v, harness serves %v", routes, served)
	}
}
