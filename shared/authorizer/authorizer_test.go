package authorizer_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/flowella/apikeys/local/dynamotest"
	"github.com/flowella/apikeys/local/localfn"
	"github.com/flowella/apikeys/local/localsession"
	"github.com/flowella/apikeys/local/syncbuf"
	"github.com/flowella/apikeys/shared/activity"
	"github.com/flowella/apikeys/shared/apikey"
	"github.com/flowella/apikeys/shared/authorizer"
	"github.com/flowella/apikeys/shared/authz"
	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/session"
	"github.com/flowella/apikeys/shared/stamp"
)

// spyDB counts the calls that reach DynamoDB Local and can inject the faults
// DynamoDB Local cannot produce (throttling, outages).
type spyDB struct {
	*dynamodb.Client
	keysTable  string
	mu         sync.Mutex
	keyReads   int
	consistent bool
	orgReads   int
	writes     atomic.Int64 // attempted writes on the keys table
	wrote      atomic.Int64 // writes that succeeded
	failReads  error
	failWrites error
}

func (s *spyDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	s.mu.Lock()
	if aws.ToString(in.TableName) == s.keysTable {
		s.keyReads++
		s.consistent = aws.ToBool(in.ConsistentRead)
	} else {
		s.orgReads++
	}
	fail := s.failReads
	s.mu.Unlock()
	if fail != nil {
		return nil, fail
	}
	return s.Client.GetItem(ctx, in, opts...)
}

func (s *spyDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if aws.ToString(in.TableName) == s.keysTable {
		s.writes.Add(1)
	}
	s.mu.Lock()
	fail := s.failWrites
	s.mu.Unlock()
	if fail != nil {
		return nil, fail
	}
	out, err := s.Client.UpdateItem(ctx, in, opts...)
	if err == nil && aws.ToString(in.TableName) == s.keysTable {
		s.wrote.Add(1)
	}
	return out, err
}

func (s *spyDB) reads() (keys, orgs int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keyReads, s.orgReads
}

const hsSecret = "authorizer-test-secret-0123456789abcdef"

type fixture struct {
	logs  *syncbuf.Buffer // the authorizer's JSON log lines
	spy   *spyDB
	store *keystore.Store
	auth  *localfn.Function
	authz *authorizer.Authorizer
	now   *time.Time
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	db, tables := dynamotest.Setup(t)
	spy := &spyDB{Client: db, keysTable: tables["KeysTable"]}
	store := keystore.New(spy, tables["KeysTable"], tables["OrgsTable"])
	if err := store.SetOrg(context.Background(), "org_a", "hobby", nil); err != nil {
		t.Fatal(err)
	}
	catalog, err := authz.Load()
	if err != nil {
		t.Fatal(err)
	}
	sessions, err := session.NewVerifier(context.Background(), session.Config{HS256Secret: hsSecret})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	f := &fixture{spy: spy, store: store, now: &now, logs: &syncbuf.Buffer{}}
	a := authorizer.New(authorizer.Config{Keys: store, Orgs: store, Catalog: catalog, Sessions: sessions,
		Env: apikey.EnvLive, Now: func() time.Time { return *f.now }, Log: slog.New(slog.NewJSONHandler(f.logs, nil)),
		// Under a loaded test run a write can take longer than a request
		// would wait in Lambda; these tests are about which writes happen.
		TouchTimeout: time.Minute})
	// Some tests invoke it from many goroutines, as Lambda never would one
	// environment: localfn gives each its own.
	f.auth, f.authz = localfn.New("AuthorizerFunction", a, 0), a
	return f
}

func (f *fixture) key(t testing.TB, scopes ...string) apikey.Key {
	t.Helper()
	secret, _ := apikey.Generate(apikey.EnvLive)
	if len(scopes) == 0 {
		scopes = []string{"*"}
	}
	err := f.store.Create(context.Background(), keystore.Key{Hash: secret.Hash(), ID: keystore.NewID(), OrgID: "org_a",
		Prefix: secret.Prefix(), Label: "t", Scopes: scopes, Status: keystore.StatusActive, CreatedAt: stamp.Of(time.Now())})
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// requestEvent is a REST API REQUEST authorizer event as API Gateway sends it.
func requestEvent(method, path, authorization string) []byte {
	ev := map[string]any{
		"type":       "REQUEST",
		"methodArn":  "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/" + method + path,
		"resource":   path,
		"path":       path,
		"httpMethod": method,
		"headers":    map[string]string{"Authorization": authorization, "Host": "abc123.execute-api.eu-west-1.amazonaws.com"},
		"requestContext": map[string]any{
			"path": "/prod" + path, "accountId": "123456789012", "resourceId": "r1", "stage": "prod",
			"requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", "apiId": "abc123", "httpMethod": method,
			"identity": map[string]any{"sourceIp": "203.0.113.7"},
		},
	}
	b, _ := json.Marshal(ev)
	return b
}

type outcome struct {
	effect  string // Allow, Deny, or "" for an error
	err     string
	context map[string]any
}

func (f *fixture) invoke(t *testing.T, event []byte) outcome {
	t.Helper()
	out, err := f.auth.Invoke(context.Background(), event)
	if err != nil {
		return outcome{err: err.Error()}
	}
	var fail struct {
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal(out, &fail) == nil && fail.ErrorMessage != "" {
		return outcome{err: fail.ErrorMessage}
	}
	var resp events.APIGatewayCustomAuthorizerResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.PolicyDocument.Statement) != 1 {
		t.Fatalf("policy: %s", out)
	}
	return outcome{effect: resp.PolicyDocument.Statement[0].Effect, context: resp.Context}
}

func TestMalformedKeysCostNoDynamoDBCall(t *testing.T) {
	f := newFixture(t)
	good := f.key(t).Secret()
	other, _ := apikey.Generate(apikey.EnvTest)
	var mutations []string
	for _, i := range []int{10, 20, 41, 42, 47} {
		c := byte('a')
		if good[i] == c {
			c = 'b'
		}
		mutations = append(mutations, good[:i]+string(c)+good[i+1:])
	}
	mutations = append(mutations, good[:47], good+"x", other.Secret(), "flwl_live_", "flwl_"+strings.Repeat("x", 100))
	for _, m := range mutations {
		if got := f.invoke(t, requestEvent("GET", "/v1/whoami", "Bearer "+m)); got.err != "Unauthorized" {
			t.Fatalf("mutated key: %+v", got)
		}
	}
	if keys, orgs := f.spy.reads(); keys != 0 || orgs != 0 {
		t.Fatalf("malformed keys caused %d key reads and %d org reads", keys, orgs)
	}
	if got := f.invoke(t, requestEvent("GET", "/v1/whoami", "Bearer "+good)); got.effect != "Allow" {
		t.Fatalf("valid key: %+v", got)
	}
	if keys, _ := f.spy.reads(); keys != 1 || !f.spy.consistent {
		t.Fatalf("valid key: %d key reads (consistent=%v), want exactly one strongly consistent read", keys, f.spy.consistent)
	}
}

func TestOneKeyReadPerRequestAndPlanCached(t *testing.T) {
	f := newFixture(t)
	k := f.key(t)
	for i := 0; i < 5; i++ {
		if got := f.invoke(t, requestEvent("GET", "/v1/contacts", "Bearer "+k.Secret())); got.effect != "Allow" {
			t.Fatalf("request %d: %+v", i, got)
		}
	}
	keys, orgs := f.spy.reads()
	if keys != 5 || orgs != 1 {
		t.Fatalf("key reads %d (want 5: never cached), org reads %d (want 1: cached)", keys, orgs)
	}
	*f.now = f.now.Add(authorizer.OrgCacheTTL + time.Second)
	f.invoke(t, requestEvent("GET", "/v1/contacts", "Bearer "+k.Secret()))
	if _, orgs := f.spy.reads(); orgs != 2 {
		t.Fatalf("plan cached past its TTL: %d org reads", orgs)
	}
}

func TestContextForBackends(t *testing.T) {
	f := newFixture(t)
	k := f.key(t, "messages:send", "analytics:read")
	got := f.invoke(t, requestEvent("POST", "/v1/messages", "Bearer "+k.Secret()))
	if got.effect != "Allow" {
		t.Fatalf("%+v", got)
	}
	stored, _ := f.store.LookupByHash(context.Background(), k.Hash())
	want := map[string]any{"principal_type": "api_key", "org_id": "org_a", "key_id": stored.ID,
		"key_prefix": k.Prefix(), "scopes": "messages:send"} // analytics:read is not in the hobby plan
	for name, v := range want {
		if got.context[name] != v {
			t.Fatalf("context[%s] = %v, want %v (context %v)", name, got.context[name], v, got.context)
		}
	}
	if got := f.invoke(t, requestEvent("GET", "/v1/analytics/daily", "Bearer "+k.Secret())); got.effect != "Deny" {
		t.Fatalf("scope outside the plan: %+v", got)
	}
}

func TestDynamoDBErrorDenies(t *testing.T) {
	f := newFixture(t)
	k := f.key(t)
	f.spy.failReads = errors.New("ProvisionedThroughputExceededException: throttled")
	events := map[string][]byte{
		"REQUEST": requestEvent("GET", "/v1/whoami", "Bearer "+k.Secret()),
		"TOKEN":   []byte(`{"type":"TOKEN","authorizationToken":"Bearer ` + k.Secret() + `","methodArn":"arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/v1/whoami"}`),
		"HTTP v2": httpV2Event("GET", "/v1/whoami", "Bearer "+k.Secret()),
	}
	for name, ev := range events {
		out, err := f.auth.Invoke(context.Background(), ev)
		if err == nil {
			t.Fatalf("%s: answered %s while DynamoDB fails; want an error (API Gateway: 500, request refused)", name, out)
		}
		if err.Error() == "Unauthorized" {
			t.Fatalf("%s: a storage failure must not tell the client its key is invalid", name)
		}
	}
}

func TestLastUsedWrittenAtMostOncePerMinute(t *testing.T) {
	f := newFixture(t)
	k := f.key(t)
	for i := 0; i < 20; i++ {
		f.invoke(t, requestEvent("GET", "/v1/whoami", "Bearer "+k.Secret()))
		*f.now = f.now.Add(2 * time.Second) // 40 s in all
	}
	if n := f.spy.writes.Load(); n != 1 {
		t.Fatalf("%d last-used writes within a minute, want 1", n)
	}
	*f.now = f.now.Add(25 * time.Second)
	f.invoke(t, requestEvent("GET", "/v1/whoami", "Bearer "+k.Secret()))
	if n := f.spy.writes.Load(); n != 2 {
		t.Fatalf("%d last-used writes after a minute, want 2", n)
	}
	stored, _ := f.store.LookupByHash(context.Background(), k.Hash())
	if stored.LastUsedAt != stamp.Of(*f.now) {
		t.Fatalf("last_used_at = %s", stored.LastUsedAt)
	}

	// Many concurrent requests for a stale key still write once: the
	// condition settles the race.
	*f.now = f.now.Add(2 * time.Minute)
	before := f.spy.wrote.Load()
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); f.invoke(t, requestEvent("GET", "/v1/whoami", "Bearer "+k.Secret())) }()
	}
	wg.Wait()
	stored2, _ := f.store.LookupByHash(context.Background(), k.Hash())
	if stored2.LastUsedAt != stamp.Of(*f.now) || f.spy.wrote.Load()-before != 1 {
		t.Fatalf("concurrent: last_used_at %s, %d successful writes, want 1", stored2.LastUsedAt, f.spy.wrote.Load()-before)
	}
}

func httpV2Event(method, path, authorization string) []byte {
	ev := map[string]any{
		"version":        "2.0",
		"type":           "REQUEST",
		"routeArn":       "arn:aws:execute-api:eu-west-1:123456789012:abc123/$default/" + method + path,
		"identitySource": []string{authorization},
		"routeKey":       method + " " + path,
		"rawPath":        path,
		"headers":        map[string]string{"authorization": authorization},
		"requestContext": map[string]any{
			"accountId": "123456789012", "apiId": "abc123", "requestId": "r-1", "stage": "$default",
			"http": map[string]any{"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7"},
		},
	}
	b, _ := json.Marshal(ev)
	return b
}

func TestEventFormats(t *testing.T) {
	f := newFixture(t)
	k := f.key(t, "contacts:read")
	admin, _ := localsession.IssueHS256(hsSecret, session.Principal{UserID: "u_1", OrgID: "org_a", Role: "admin"}, time.Hour, "", "")
	member, _ := localsession.IssueHS256(hsSecret, session.Principal{UserID: "u_2", OrgID: "org_a", Role: "member"}, time.Hour, "", "")
	tokenEvent := func(method, path, tok string) []byte {
		return []byte(`{"type":"TOKEN","authorizationToken":"Bearer ` + tok + `","methodArn":"arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/` + method + path + `"}`)
	}
	tests := []struct {
		name  string
		event []byte
		want  string // Allow, Deny, Unauthorized, true, false
	}{
		{"REQUEST allow", requestEvent("GET", "/v1/contacts", "Bearer "+k.Secret()), "Allow"},
		{"REQUEST lower-case bearer", requestEvent("GET", "/v1/contacts", "bearer "+k.Secret()), "Allow"},
		{"REQUEST missing scope", requestEvent("POST", "/v1/contacts", "Bearer "+k.Secret()), "Deny"},
		{"REQUEST no bearer", requestEvent("GET", "/v1/contacts", k.Secret()), "Unauthorized"},
		{"REQUEST session admin", requestEvent("GET", "/v1/api-keys", "Bearer "+admin), "Allow"},
		{"REQUEST session member", requestEvent("GET", "/v1/api-keys", "Bearer "+member), "Deny"},
		{"REQUEST session on key route", requestEvent("GET", "/v1/contacts", "Bearer "+admin), "Deny"},
		{"REQUEST key on admin route", requestEvent("GET", "/v1/api-keys", "Bearer "+k.Secret()), "Deny"},
		{"TOKEN allow", tokenEvent("GET", "/v1/contacts/c_1", k.Secret()), "Allow"},
		{"TOKEN missing scope", tokenEvent("DELETE", "/v1/contacts/c_1", k.Secret()), "Deny"},
		{"TOKEN garbage", tokenEvent("GET", "/v1/contacts", "nonsense"), "Unauthorized"},
		{"HTTP v2 allow", httpV2Event("GET", "/v1/contacts", "Bearer "+k.Secret()), "true"},
		{"HTTP v2 missing scope", httpV2Event("POST", "/v1/contacts", "Bearer "+k.Secret()), "false"},
		{"HTTP v2 unknown key", httpV2Event("GET", "/v1/contacts", "Bearer "+f.unknownKey()), "Unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := f.auth.Invoke(context.Background(), tt.event)
			var got string
			if err != nil {
				got = err.Error()
			}
			var v struct {
				ErrorMessage   string `json:"errorMessage"`
				IsAuthorized   *bool  `json:"isAuthorized"`
				PolicyDocument struct {
					Statement []struct{ Effect string }
				} `json:"policyDocument"`
			}
			_ = json.Unmarshal(out, &v)
			switch {
			case err != nil:
			case v.ErrorMessage != "":
				got = v.ErrorMessage
			case v.IsAuthorized != nil:
				got = map[bool]string{true: "true", false: "false"}[*v.IsAuthorized]
			case len(v.PolicyDocument.Statement) == 1:
				got = v.PolicyDocument.Statement[0].Effect
			}
			if got != tt.want {
				t.Fatalf("got %q, want %q: %s", got, tt.want, out)
			}
		})
	}
}

func (f *fixture) unknownKey() string {
	k, _ := apikey.Generate(apikey.EnvLive)
	return k.Secret()
}

func TestAllowListNeedsASourceAddress(t *testing.T) {
	f := newFixture(t)
	secret, _ := apikey.Generate(apikey.EnvLive)
	err := f.store.Create(context.Background(), keystore.Key{Hash: secret.Hash(), ID: keystore.NewID(), OrgID: "org_a",
		Prefix: secret.Prefix(), Label: "t", Scopes: []string{"*"}, Status: keystore.StatusActive,
		CreatedAt: stamp.Of(*f.now), AllowedIPs: []string{"203.0.113.0/24"}})
	if err != nil {
		t.Fatal(err)
	}
	tok := "Bearer " + secret.Secret()
	// requestEvent and httpV2Event come from 203.0.113.7.
	if got := f.invoke(t, requestEvent("GET", "/v1/whoami", tok)); got.effect != "Allow" {
		t.Fatalf("REQUEST from inside: %+v", got)
	}
	out, err := f.auth.Invoke(context.Background(), httpV2Event("GET", "/v1/whoami", tok))
	if err != nil || !strings.Contains(string(out), `"isAuthorized":true`) {
		t.Fatalf("HTTP v2 from inside: %s %v", out, err)
	}
	// A TOKEN event carries no source address: fail closed.
	token := []byte(`{"type":"TOKEN","authorizationToken":"` + tok + `","methodArn":"arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/v1/whoami"}`)
	if got := f.invoke(t, token); got.effect != "Deny" {
		t.Fatalf("TOKEN without a source address: %+v", got)
	}
}

// The decision follows the route API Gateway resolved, so a named stage of
// an HTTP API or a base path mapping of a REST API changes nothing.
func TestDecidesOnTheResolvedRoute(t *testing.T) {
	f := newFixture(t)
	reader := "Bearer " + f.key(t, "contacts:read").Secret()
	sender := "Bearer " + f.key(t, "messages:send").Secret()
	rest := func(path, resource string, params map[string]string, auth string) []byte {
		var ev map[string]any
		_ = json.Unmarshal(requestEvent("GET", path, auth), &ev)
		ev["resource"], ev["pathParameters"] = resource, params
		ev["requestContext"].(map[string]any)["resourcePath"] = resource
		b, _ := json.Marshal(ev)
		return b
	}
	httpAPI := func(rawPath, routeKey, stage string, params map[string]string, auth string) []byte {
		var ev map[string]any
		_ = json.Unmarshal(httpV2Event("GET", rawPath, auth), &ev)
		ev["routeKey"], ev["pathParameters"] = routeKey, params
		ev["requestContext"].(map[string]any)["stage"] = stage
		b, _ := json.Marshal(ev)
		return b
	}
	contact := map[string]string{"id": "c_1"}
	tests := []struct {
		name  string
		event func(auth string) []byte
	}{
		{"REST behind a base path mapping", func(a string) []byte {
			return rest("/flowella/v1/contacts/c_1", "/v1/contacts/{id}", contact, a)
		}},
		{"REST resource naming its parameter otherwise", func(a string) []byte {
			return rest("/v1/contacts/c_1", "/v1/contacts/{contact}", map[string]string{"contact": "c_1"}, a)
		}},
		{"HTTP API on a named stage", func(a string) []byte {
			return httpAPI("/prod/v1/contacts/c_1", "GET /v1/contacts/{id}", "prod", contact, a)
		}},
		{"HTTP API $default route on a named stage", func(a string) []byte {
			return httpAPI("/prod/v1/contacts/c_1", "$default", "prod", nil, a)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for auth, want := range map[string]bool{reader: true, sender: false} {
				out, err := f.auth.Invoke(context.Background(), tt.event(auth))
				if err != nil {
					t.Fatal(err)
				}
				allowed := strings.Contains(string(out), `"Effect":"Allow"`) || strings.Contains(string(out), `"isAuthorized":true`)
				if allowed != want {
					t.Errorf("key allowed=%v, want %v: %s", allowed, want, out)
				}
			}
		})
	}
	// A REST path that only matches once the base path is removed is not
	// how the decision is made: the resource is.
	out, err := f.auth.Invoke(context.Background(), rest("/v1/contacts", "/v1/messages", nil, reader))
	if err != nil || !strings.Contains(string(out), `"Effect":"Deny"`) {
		t.Fatalf("a contacts:read key on the resolved route GET /v1/messages: %s %v", out, err)
	}
}

// Every refusal of a key the authorizer identified leaves one structured
// line naming the key, its organisation and a stable reason: API Gateway's
// access log has no key id for a 401, and a leak investigation needs the
// requests made after the revoke most of all.
func TestRefusalsOfAnIdentifiedKeyAreLogged(t *testing.T) {
	f := newFixture(t)
	revoked, expired, scoped := f.key(t), f.key(t), f.key(t, "messages:send")
	ids := map[string]string{}
	for _, k := range []apikey.Key{revoked, expired, scoped} {
		got, err := f.store.LookupByHash(context.Background(), k.Hash())
		if err != nil {
			t.Fatal(err)
		}
		ids[k.Prefix()] = got.ID
	}
	if _, err := f.store.Revoke(context.Background(), "org_a", ids[revoked.Prefix()], "leaked", keystore.Change{At: stamp.Of(*f.now)}); err != nil {
		t.Fatal(err)
	}
	past := keystore.FormatTime(f.now.Add(-time.Minute))
	if _, err := f.spy.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
		TableName:                 aws.String(f.spy.keysTable),
		Key:                       map[string]types.AttributeValue{"key_hash": &types.AttributeValueMemberS{Value: expired.Hash()}},
		UpdateExpression:          aws.String("SET expires_at = :t"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberS{Value: past}},
	}); err != nil {
		t.Fatal(err)
	}
	unknown, _ := apikey.Generate(apikey.EnvLive)
	tests := []struct {
		name   string
		key    apikey.Key
		path   string
		code   string
		withID bool
	}{
		{"revoked", revoked, "/v1/whoami", "revoked", true},
		{"expired", expired, "/v1/whoami", "expired", true},
		{"out of scope", scoped, "/v1/contacts", "scope_missing", true},
		{"unknown", unknown, "/v1/whoami", "unknown_key", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(f.logs.String())
			f.invoke(t, requestEvent("GET", tt.path, "Bearer "+tt.key.Secret()))
			var line map[string]any
			for _, l := range strings.Split(f.logs.String()[before:], "\n") {
				if strings.Contains(l, `"authorizer decision"`) {
					_ = json.Unmarshal([]byte(l), &line)
				}
			}
			want := map[string]any{"reason_code": tt.code, "key_prefix": tt.key.Prefix(),
				"request_id": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", "path": tt.path, "source_ip": "203.0.113.7"}
			if tt.withID {
				want["key_id"], want["org_id"] = ids[tt.key.Prefix()], "org_a"
			}
			for k, v := range want {
				if line[k] != v {
					t.Errorf("%s = %v, want %v in %v", k, line[k], v, line)
				}
			}
			if strings.Contains(f.logs.String(), tt.key.Secret()) {
				t.Fatal("the secret was logged")
			}
		})
	}
}

// A user agent of 8 KiB of quotes, escaped in the decision line, made the
// line too long for key activity to read, so the request left no trace (a
// 403's or a 401's decision line is where activity finds it). The line
// keeps at most MaxLoggedText bytes of the user agent and the path.
func TestDecisionLineStaysReadableWhateverTheUserAgent(t *testing.T) {
	f := newFixture(t)
	k := f.key(t, "messages:send")
	stored, err := f.store.LookupByHash(context.Background(), k.Hash())
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	_ = json.Unmarshal(requestEvent("GET", "/v1/contacts", "Bearer "+k.Secret()), &ev)
	ev["headers"].(map[string]any)["User-Agent"] = strings.Repeat(`"`, 8300)
	raw, _ := json.Marshal(ev)
	if got := f.invoke(t, raw); got.effect != "Deny" {
		t.Fatalf("%+v, want a 403 (Deny)", got)
	}
	var line string
	for l := range strings.Lines(f.logs.String()) {
		if strings.Contains(l, `"msg":"authorizer decision"`) {
			line = strings.TrimSpace(l)
		}
	}
	var fields struct {
		UserAgent string `json:"user_agent"`
	}
	if err := json.Unmarshal([]byte(line), &fields); err != nil || len(fields.UserAgent) != authorizer.MaxLoggedText {
		t.Fatalf("decision line (%d bytes) keeps %d bytes of the user agent, want %d: %v", len(line), len(fields.UserAgent), authorizer.MaxLoggedText, err)
	}
	o, ok := activity.Parse(line, time.Now())
	if !ok || o.KeyID != stored.ID || o.Status != 403 {
		t.Fatalf("key activity cannot read the decision line (%d bytes): %+v, %v", len(line), o, ok)
	}
}
