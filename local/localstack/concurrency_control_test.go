package localstack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/flowella/apikeys/local/dynamofault"
	"github.com/flowella/apikeys/local/dynamotest"
	"github.com/flowella/apikeys/local/localstack"
	"github.com/flowella/apikeys/local/syncbuf"
	"github.com/flowella/apikeys/shared/apikey"
	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/samtemplate"
	"github.com/flowella/apikeys/shared/stamp"
)

// newFaultHarness is newHarness (without stream delivery) whose functions'
// DynamoDB clients get DynamoDB's faults from the returned injector:
// transaction conflicts, throttling and index lag, which DynamoDB Local
// never produces. The IAM layer and the OpenAPI check apply as usual.
func newFaultHarness(t *testing.T) (*harness, *dynamofault.Injector) {
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
	inj := dynamofault.New(dynamofault.Config{})
	stack, err := localstack.Build(context.Background(), localstack.Config{
		Template:   tpl,
		DB:         db,
		TableName:  func(id string) string { return tables[id] },
		Parameters: map[string]string{"SessionHS256Secret": testSecret},
		AccessLog:  access,
		Log:        slog.Default(),
		Faults:     inj,
	})
	if err != nil {
		t.Fatal(err)
	}
	if stack.Faults != inj {
		t.Fatal("the stack does not use the injector it was given")
	}
	srv := httptest.NewServer(stack)
	t.Cleanup(srv.Close)
	store := keystore.New(db, tables["KeysTable"], tables["OrgsTable"])
	for _, org := range []string{"org_a", "org_b"} {
		if err := store.SetOrg(context.Background(), org, "paid", nil); err != nil {
			t.Fatal(err)
		}
	}
	h := &harness{t: t, srv: srv, db: db, tables: tables, store: store, logs: logs, access: access, dlq: &syncbuf.Buffer{},
		spec: newSpecChecker(t, srv.URL)}
	t.Cleanup(func() { t.Logf("%d responses checked against api/openapi.yaml", h.spec.Checked()) })
	return h, inj
}

// send is harness.do with extra request headers, returning the response's
// headers too; safe to call from goroutines (it reports with Errorf).
func (h *harness) send(method, path, token, body string, headers map[string]string) (response, http.Header) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		h.t.Error(err)
		return response{}, nil
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Error(err)
		return response{}, nil
	}
	defer resp.Body.Close()
	raw := bodyCopy(resp)
	h.spec.check(h.t, req, resp, raw)
	out := response{Status: resp.StatusCode, Raw: string(raw), RequestID: resp.Header.Get("X-Amzn-RequestId")}
	_ = json.Unmarshal(raw, &out.Body)
	return out, resp.Header
}

// Issue 7, item 7: with the index lagging as DynamoDB's global secondary
// indexes do, every read by id right after a write still finds the key:
// get, PATCH, revoke and roll read the id pointer, strongly. Before, each
// of them answered 404 here.
func TestIndexLagNeverHidesAFreshKey(t *testing.T) {
	h, inj := newFaultHarness(t)
	inj.Set(dynamofault.Config{GSILag: time.Hour})
	admin := h.token("org_a", "u_a", "admin")
	check := func(what string, r response, status int) {
		t.Helper()
		if r.Status != status {
			t.Fatalf("%s right after the write: %d %s", what, r.Status, r.Raw)
		}
	}

	id, _ := h.createKey(admin, map[string]any{"label": "fresh"})
	check("get", h.do("GET", "/v1/api-keys/"+id, admin, nil), 200)
	check("patch", h.do("PATCH", "/v1/api-keys/"+id, admin, map[string]any{"label": "renamed"}), 200)
	r := h.do("POST", "/v1/api-keys/"+id+"/roll", admin, map[string]any{"grace_period_seconds": 600})
	check("roll", r, 201)
	next := r.Body["id"].(string)
	check("get of the successor", h.do("GET", "/v1/api-keys/"+next, admin, nil), 200)
	check("patch of the successor", h.do("PATCH", "/v1/api-keys/"+next, admin, map[string]any{"scopes": []string{"messages:read"}}), 200)
	check("revoke of the successor", h.do("POST", "/v1/api-keys/"+next+"/revoke", admin, nil), 200)
	other, _ := h.createKey(admin, map[string]any{"label": "revoked at once"})
	check("revoke", h.do("POST", "/v1/api-keys/"+other+"/revoke", admin, nil), 200)
	another, _ := h.createKey(admin, map[string]any{"label": "rolled at once"})
	check("roll", h.do("POST", "/v1/api-keys/"+another+"/roll", admin, nil), 201)

	// The lag is in effect: the list, which reads the index, has seen none of it.
	if ids := h.keyIDs(admin); len(ids) != 0 {
		t.Fatalf("the lagging index lists %v", ids)
	}
	// Tenant isolation holds on the pointer path.
	check("get from another organisation", h.do("GET", "/v1/api-keys/"+id, h.token("org_b", "u_b", "owner"), nil), 404)
	t.Logf("%d index results held back by the injected lag", inj.Stats().Hidden)
}

// Issue 7, item 8: concurrent transactions on one organisation's item fail
// in DynamoDB with TransactionConflict, which used to reach the client as
// 409. They are retried; only conflicts on every attempt end the request,
// with 503 unavailable and Retry-After, never 409.
func TestTransactionConflictsNeverReachTheClient(t *testing.T) {
	h, inj := newFaultHarness(t)
	admin := h.token("org_a", "u_a", "admin")
	const conflicts = 2
	step := func(what string, status int, do func() response) response {
		t.Helper()
		before := inj.Stats().Conflicts
		inj.ConflictNext(conflicts)
		r := do()
		if r.Status != status {
			t.Fatalf("%s after %d conflicts: %d %s", what, conflicts, r.Status, r.Raw)
		}
		if got := inj.Stats().Conflicts - before; got != conflicts {
			t.Fatalf("%s: %d conflicts injected, want %d", what, got, conflicts)
		}
		return r
	}
	id := step("create", 201, func() response {
		return h.do("POST", "/v1/api-keys", admin, map[string]any{"label": "contended"})
	}).Body["id"].(string)
	step("patch", 200, func() response {
		return h.do("PATCH", "/v1/api-keys/"+id, admin, map[string]any{"label": "still contended"})
	})
	next := step("roll", 201, func() response {
		return h.do("POST", "/v1/api-keys/"+id+"/roll", admin, map[string]any{"grace_period_seconds": 60})
	}).Body["id"].(string)
	step("revoke", 200, func() response {
		return h.do("POST", "/v1/api-keys/"+next+"/revoke", admin, nil)
	})

	// Conflicts on every attempt: 503 with Retry-After, and nothing changed.
	before := h.keyIDs(admin)
	inj.Set(dynamofault.Config{Conflicts: 1})
	for _, req := range []struct{ method, path, body string }{
		{"POST", "/v1/api-keys", `{"label":"never"}`},
		{"PATCH", "/v1/api-keys/" + id, `{"label":"never"}`},
		{"POST", "/v1/api-keys/" + id + "/revoke", ""},
		{"POST", "/v1/api-keys/" + id + "/roll", `{"grace_period_seconds":60}`},
	} {
		r, hdr := h.send(req.method, req.path, admin, req.body, nil)
		if r.Status != 503 || code(r) != "unavailable" || hdr.Get("Retry-After") == "" {
			t.Fatalf("%s %s under endless conflicts: %d %v %s", req.method, req.path, r.Status, hdr, r.Raw)
		}
	}
	inj.Set(dynamofault.Config{})
	if after := h.keyIDs(admin); !slices.Equal(before, after) {
		t.Fatalf("keys before %v, after %v", before, after)
	}
	r := h.do("GET", "/v1/api-keys/"+id, admin, nil)
	if r.Body["label"] != "still contended" || r.Body["status"] != "active" || r.Body["rolled_to"] != next {
		t.Fatalf("key after refused writes: %s", r.Raw)
	}

	// Throttling: the SDK's own retries absorb a burst; throttling that
	// outlasts them is 503 too.
	inj.ThrottleNext(2)
	if r := h.do("GET", "/v1/api-keys/"+id, admin, nil); r.Status != 200 {
		t.Fatalf("get after 2 throttled attempts: %d %s", r.Status, r.Raw)
	}
	inj.Set(dynamofault.Config{Throttle: 1})
	if r, hdr := h.send("GET", "/v1/api-keys/"+id, admin, "", nil); r.Status != 503 || hdr.Get("Retry-After") == "" {
		t.Fatalf("get under endless throttling: %d %s", r.Status, r.Raw)
	}
}

// Issue 8, finding 1: "in 20 of 40 races of POST …/roll against PATCH
// {allowed_ips, scopes} on a fresh key, both succeeded, and the new live key
// had allowed_ips: [] and scopes: ["*"]". Here: 40 races, each order of
// sending 20 times. After every race, either the PATCH's values are on the
// live successor, or one of the two answered 409.
func TestRollPatchRace(t *testing.T) {
	h := newHarness(t)
	admin := h.token("org_a", "u_a", "admin")
	patch := `{"allowed_ips":["10.0.0.0/8"],"scopes":["messages:read"]}`
	var bothOK, conflicts, lost int
	for race := range 40 {
		id, _ := h.createKey(admin, map[string]any{"label": fmt.Sprintf("race %d", race)})
		var roll, upd response
		var wg sync.WaitGroup
		wg.Add(2)
		doRoll := func() { defer wg.Done(); roll, _ = h.send("POST", "/v1/api-keys/"+id+"/roll", admin, "", nil) }
		doPatch := func() { defer wg.Done(); upd, _ = h.send("PATCH", "/v1/api-keys/"+id, admin, patch, nil) }
		if race%2 == 0 {
			go doRoll()
			go doPatch()
		} else {
			go doPatch()
			go doRoll()
		}
		wg.Wait()
		if (roll.Status != 201 && roll.Status != 409) || (upd.Status != 200 && upd.Status != 409) {
			t.Fatalf("race %d: roll %d %s, patch %d %s", race, roll.Status, roll.Raw, upd.Status, upd.Raw)
		}
		if roll.Status == 409 || upd.Status == 409 {
			conflicts++
			continue
		}
		bothOK++
		live := h.do("GET", "/v1/api-keys/"+roll.Body["id"].(string), admin, nil)
		if fmt.Sprint(live.Body["allowed_ips"]) != "[10.0.0.0/8]" || fmt.Sprint(live.Body["scopes"]) != "[messages:read]" {
			lost++
			t.Errorf("race %d: both answered 2xx, and the live key is %s", race, live.Raw)
		}
	}
	t.Logf("40 roll/patch races: %d both succeeded, %d answered 409, %d lost updates", bothOK, conflicts, lost)
}

// ETag and If-Match end to end: the gateway passes both, and 412 is
// documented (the OpenAPI checker sees every response).
func TestETagAndIfMatchThroughTheGateway(t *testing.T) {
	h := newHarness(t)
	admin := h.token("org_a", "u_a", "admin")
	r, hdr := h.send("POST", "/v1/api-keys", admin, `{"label":"tagged"}`, nil)
	if r.Status != 201 || hdr.Get("ETag") == "" {
		t.Fatalf("create: %d %v", r.Status, hdr)
	}
	id, created := r.Body["id"].(string), hdr.Get("ETag")
	if _, hdr := h.send("GET", "/v1/api-keys/"+id, admin, "", nil); hdr.Get("ETag") != created {
		t.Fatalf("get ETag %q, create gave %q", hdr.Get("ETag"), created)
	}
	r, hdr = h.send("PATCH", "/v1/api-keys/"+id, admin, `{"label":"v2"}`, map[string]string{"If-Match": created})
	if r.Status != 200 || hdr.Get("ETag") == created {
		t.Fatalf("patch with the current ETag: %d %v", r.Status, hdr)
	}
	current := hdr.Get("ETag")
	for _, req := range []struct{ method, path, body string }{
		{"PATCH", "/v1/api-keys/" + id, `{"label":"lost"}`},
		{"POST", "/v1/api-keys/" + id + "/revoke", ""},
		{"POST", "/v1/api-keys/" + id + "/roll", ""},
	} {
		if r, _ := h.send(req.method, req.path, admin, req.body, map[string]string{"If-Match": created}); r.Status != 412 || code(r) != "precondition_failed" {
			t.Fatalf("%s %s with a stale ETag: %d %s", req.method, req.path, r.Status, r.Raw)
		}
	}
	if r, _ := h.send("PATCH", "/v1/api-keys/"+id, admin, `{"label":"x"}`, map[string]string{"If-Match": "v2"}); r.Status != 400 {
		t.Fatalf("malformed If-Match: %d %s", r.Status, r.Raw)
	}
	r, hdr = h.send("POST", "/v1/api-keys/"+id+"/roll", admin, `{"grace_period_seconds":60}`, map[string]string{"If-Match": current})
	if r.Status != 201 || hdr.Get("ETag") == "" || hdr.Get("ETag") == current {
		t.Fatalf("roll with the current ETag: %d %v %s", r.Status, hdr, r.Raw)
	}
}

// Keys stored before id pointers and versions existed are still served, on
// the index path the template's roles keep granting (Query), at version 0;
// an unknown id is 404 on every endpoint, after the same fallback.
func TestLegacyKeysWithoutPointerAreServed(t *testing.T) {
	h := newHarness(t)
	admin := h.token("org_a", "u_a", "admin")
	secret, err := apikey.Generate(apikey.EnvLive)
	if err != nil {
		t.Fatal(err)
	}
	at := stamp.Of(time.Now().Add(-time.Hour))
	legacy := keystore.Key{Hash: secret.Hash(), ID: keystore.NewID(), OrgID: "org_a", Prefix: secret.Prefix(), Label: "from before",
		Scopes: []string{"*"}, Status: keystore.StatusActive, CreatedAt: at, CreatedBy: "u_a",
		LastChange: &keystore.Change{Op: keystore.OpCreate, At: at, Actor: keystore.Actor{UserID: "u_a"}}}
	item, err := attributevalue.MarshalMap(legacy)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(h.tables["KeysTable"]), Item: item}); err != nil {
		t.Fatal(err)
	}
	path := "/v1/api-keys/" + legacy.ID
	r, hdr := h.send("GET", path, admin, "", nil)
	if r.Status != 200 || hdr.Get("ETag") == "" {
		t.Fatalf("get of a legacy key: %d %s", r.Status, r.Raw)
	}
	if r, _ := h.send("PATCH", path, admin, `{"label":"still here"}`, map[string]string{"If-Match": hdr.Get("ETag")}); r.Status != 200 {
		t.Fatalf("patch of a legacy key: %d %s", r.Status, r.Raw)
	}
	if r := h.do("POST", path+"/roll", admin, map[string]any{"grace_period_seconds": 60}); r.Status != 201 {
		t.Fatalf("roll of a legacy key: %d %s", r.Status, r.Raw)
	}
	if r := h.do("POST", path+"/revoke", admin, nil); r.Status != 200 {
		t.Fatalf("revoke of a legacy key: %d %s", r.Status, r.Raw)
	}
	if r := h.do("GET", path, h.token("org_b", "u_b", "owner"), nil); r.Status != 404 {
		t.Fatalf("legacy key from another organisation: %d", r.Status)
	}
	unknown := "/v1/api-keys/" + keystore.NewID()
	for _, req := range []struct{ method, path, body string }{
		{"GET", unknown, ""}, {"PATCH", unknown, `{"label":"x"}`}, {"POST", unknown + "/revoke", ""}, {"POST", unknown + "/roll", ""},
	} {
		if r, _ := h.send(req.method, req.path, admin, req.body, nil); r.Status != 404 {
			t.Fatalf("%s of an unknown id: %d %s", req.method, r.Status, r.Raw)
		}
	}
}

// make run turns faults on with LOCAL_DYNAMODB_FAULTS; a bad value stops the
// stack with a message naming the variable.
func TestFaultsFromTheEnvironment(t *testing.T) {
	db, tables := dynamotest.Setup(t)
	tpl, err := samtemplate.Load(dynamotest.TemplatePath(t))
	if err != nil {
		t.Fatal(err)
	}
	build := func() (*localstack.Stack, error) {
		return localstack.Build(context.Background(), localstack.Config{Template: tpl, DB: db,
			TableName: func(id string) string { return tables[id] }, Parameters: map[string]string{"SessionHS256Secret": testSecret},
			AccessLog: io.Discard, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}
	t.Setenv(dynamofault.EnvVar, "")
	if s, err := build(); err != nil || s.Faults != nil {
		t.Fatalf("unset: %v %v", s.Faults, err)
	}
	t.Setenv(dynamofault.EnvVar, "conflicts=0.2,gsi_lag=2s")
	s, err := build()
	if err != nil || s.Faults == nil || s.Faults.Config() != (dynamofault.Config{Conflicts: 0.2, GSILag: 2 * time.Second}) {
		t.Fatalf("set: %v %v", s, err)
	}
	t.Setenv(dynamofault.EnvVar, "conflicts=lots")
	if _, err := build(); err == nil || !strings.Contains(err.Error(), dynamofault.EnvVar) {
		t.Fatalf("bad value: %v", err)
	}
}
