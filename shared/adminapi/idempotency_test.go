package adminapi_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/flowella/apikeys/local/dynamotest"
	"github.com/flowella/apikeys/shared/adminapi"
	"github.com/flowella/apikeys/shared/apikey"
	"github.com/flowella/apikeys/shared/authz"
	"github.com/flowella/apikeys/shared/keystore"
)

// lossyDB is DynamoDB Local whose next transaction commits and then fails,
// as when the connection drops after DynamoDB has written: the handler
// answers 500 for a key that exists.
type lossyDB struct {
	*dynamodb.Client
	loseNext atomic.Bool
}

func (db *lossyDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	out, err := db.Client.TransactWriteItems(ctx, in, opts...)
	if err == nil && db.loseNext.CompareAndSwap(true, false) {
		return nil, errors.New("read tcp: connection reset by peer")
	}
	return out, err
}

func newLossyHandlers(t *testing.T) (*adminapi.Handlers, *lossyDB) {
	t.Helper()
	client, tables := dynamotest.Setup(t)
	db := &lossyDB{Client: client}
	store := keystore.New(db, tables["KeysTable"], tables["OrgsTable"]).WithIdempotency(tables["IdempotencyTable"])
	if err := store.SetOrg(context.Background(), "org_demo", "paid", nil); err != nil {
		t.Fatal(err)
	}
	catalog, err := authz.Load()
	if err != nil {
		t.Fatal(err)
	}
	return &adminapi.Handlers{Store: store, Catalog: catalog, Env: apikey.EnvLive}, db
}

// withIdempotencyKey sets (or, with absent, removes) the Idempotency-Key of a
// sample event, and its body when body is not "".
func withIdempotencyKey(ev events.APIGatewayProxyRequest, key string, absent bool, body string) events.APIGatewayProxyRequest {
	ev.Headers = copyMap(ev.Headers)
	ev.MultiValueHeaders = copyMap(ev.MultiValueHeaders)
	delete(ev.Headers, adminapi.IdempotencyHeader)
	delete(ev.MultiValueHeaders, adminapi.IdempotencyHeader)
	if !absent {
		ev.Headers[adminapi.IdempotencyHeader] = key
		ev.MultiValueHeaders[adminapi.IdempotencyHeader] = []string{key}
	}
	if body != "" {
		ev.Body = body
	}
	return ev
}

func copyMap[V any](m map[string]V) map[string]V {
	out := make(map[string]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func keyCount(t *testing.T, h *adminapi.Handlers) int {
	t.Helper()
	keys, _, err := h.Store.List(context.Background(), "org_demo", keystore.ListOptions{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return len(keys)
}

func errorCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// checkReplay checks a replay answer: 409 idempotent_replay, the key the
// first request made, no secret, and what to do about it.
func checkReplay(t *testing.T, status int, body map[string]any) map[string]any {
	t.Helper()
	key, _ := body["key"].(map[string]any)
	msg, _ := body["error"].(map[string]any)["message"].(string)
	if status != 409 || errorCode(body) != "idempotent_replay" || key == nil || body["request_id"] == nil {
		t.Fatalf("replay: %d %v", status, body)
	}
	id, _ := key["id"].(string)
	for _, want := range []string{"cannot be shown again", "/v1/api-keys/" + id + "/roll", "/v1/api-keys/" + id + "/revoke"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("replay message lacks %q: %s", want, msg)
		}
	}
	if key["secret"] != nil || body["secret"] != nil {
		t.Fatalf("replay shows a secret: %v", body)
	}
	return key
}

func TestCreateRetriedAfterLostResponseLeavesOneKey(t *testing.T) {
	h, db := newLossyHandlers(t)
	ev := withIdempotencyKey(sampleEvent(t, "create-key"), "create-2026-11-25-001", false, "")

	db.loseNext.Store(true)
	if status, body := invoke(t, h.Create(), ev); status != 500 || errorCode(body) != "internal" {
		t.Fatalf("lost response: %d %v", status, body)
	}
	// The client never saw an answer, so it retries with the same key.
	status, body := invoke(t, h.Create(), ev)
	key := checkReplay(t, status, body)
	if key["label"] != "n8n production" || key["status"] != "active" {
		t.Fatalf("replayed key: %v", key)
	}
	if n := keyCount(t, h); n != 1 {
		t.Fatalf("org has %d keys, want 1", n)
	}
	stored, err := h.Store.Get(context.Background(), "org_demo", key["id"].(string))
	if err != nil || stored.ID != key["id"] {
		t.Fatalf("replayed key is not the stored one: %+v %v", stored, err)
	}
}

func TestRollRetriedAfterLostResponseLeavesOneReplacement(t *testing.T) {
	h, db := newLossyHandlers(t)
	status, created := invoke(t, h.Create(), withIdempotencyKey(sampleEvent(t, "create-key"), "", true, ""))
	if status != 201 {
		t.Fatalf("create: %d %v", status, created)
	}
	oldID := created["id"].(string)
	ev := sampleEvent(t, "roll-key")
	ev.PathParameters = map[string]string{"id": oldID}
	ev.Path = strings.Replace(ev.Path, "key_01KMZ0000000000000000000AB", oldID, 1)
	ev = withIdempotencyKey(ev, "roll-2026-11-25-001", false, "")

	db.loseNext.Store(true)
	if status, body := invoke(t, h.Roll(), ev); status != 500 {
		t.Fatalf("lost response: %d %v", status, body)
	}
	status, body := invoke(t, h.Roll(), ev)
	key := checkReplay(t, status, body)
	if key["rolled_from"] != oldID || !strings.Contains(body["error"].(map[string]any)["message"].(string), "rolled API key "+oldID+" to "+key["id"].(string)) {
		t.Fatalf("replayed roll: %v", body)
	}
	if n := keyCount(t, h); n != 2 {
		t.Fatalf("org has %d keys, want the old one and one replacement", n)
	}
	old, _ := h.Store.Get(context.Background(), "org_demo", oldID)
	if old.RolledTo != key["id"] {
		t.Fatalf("old key rolled_to %s, replay names %v", old.RolledTo, key["id"])
	}
	// The sample's grace period keeps the old key active, so without the
	// record this retry would have made a second replacement.
	if old.Status != keystore.StatusActive || old.ExpiresAt.IsZero() {
		t.Fatalf("old key: %+v", old)
	}
}

func TestIdempotencyKeyRules(t *testing.T) {
	h := newHandlers(t)
	const body = `{"label": "n8n production", "scopes": ["messages:send", "contacts:read"]}`
	create := func(key string, absent bool, body string) (int, map[string]any) {
		return invoke(t, h.Create(), withIdempotencyKey(sampleEvent(t, "create-key"), key, absent, body))
	}
	status, first := create("k-1", false, body)
	if status != 201 {
		t.Fatalf("create: %d %v", status, first)
	}
	tests := []struct {
		name   string
		key    string
		absent bool
		body   string
		status int
		code   string
	}{
		{"same body, written differently", "k-1", false, "{\"scopes\":[\"messages:send\",\"contacts:read\"],\n \"label\":\"n8n production\"}", 409, "idempotent_replay"},
		{"another body", "k-1", false, `{"label": "n8n staging"}`, 422, "idempotency_key_reused"},
		{"empty key", "", false, body, 400, "validation_failed"},
		{"too long", strings.Repeat("k", adminapi.MaxIdempotencyKey+1), false, body, 400, "validation_failed"},
		{"not ASCII", "clé-1", false, body, 400, "validation_failed"},
		{"control character", "k\t1", false, body, 400, "validation_failed"},
		{"invalid body first", "k-2", false, `{"label": ""}`, 400, "validation_failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, got := create(tt.key, tt.absent, tt.body)
			if status != tt.status || errorCode(got) != tt.code {
				t.Fatalf("%d %v", status, got)
			}
			if status == 409 && got["key"].(map[string]any)["id"] != first["id"] {
				t.Fatalf("replay names another key: %v", got)
			}
		})
	}
	if n := keyCount(t, h); n != 1 {
		t.Fatalf("org has %d keys after refused and replayed requests, want 1", n)
	}
	// The longest key allowed works; without the header, every create makes a key.
	if status, got := create(strings.Repeat("k", adminapi.MaxIdempotencyKey), false, body); status != 201 {
		t.Fatalf("255-character key: %d %v", status, got)
	}
	for range 2 {
		if status, got := create("", true, body); status != 201 {
			t.Fatalf("without the header: %d %v", status, got)
		}
	}
	if n := keyCount(t, h); n != 4 {
		t.Fatalf("org has %d keys, want 4", n)
	}
}

// idempotent sends a create or roll with this Idempotency-Key (none when "").
func (a *apiHarness) idempotent(method, path string, who caller, key, body string) apiResponse {
	a.t.Helper()
	var headers map[string]string
	if key != "" {
		headers = map[string]string{adminapi.IdempotencyHeader: key}
	}
	var b any
	if body != "" {
		b = body
	}
	return a.send(method, path, who, b, headers)
}

// A retried create answers 409 idempotent_replay naming the first key, not
// its secret; the same Idempotency-Key for another request is 422; each
// organisation's keys are its own; without the header every request makes
// a key.
func TestIdempotentCreate(t *testing.T) {
	a := newAPI(t)
	admin := sessionOf("org_a", "u_a", "admin")
	const body = `{"label":"zapier","scopes":["messages:send"]}`

	first := a.idempotent("POST", "/v1/api-keys", admin, "zap-1", body)
	if first.Status != 201 || first.Body["secret"] == nil {
		t.Fatalf("create: %d %s", first.Status, first.Raw)
	}
	secret := first.Body["secret"].(string)

	// The same request again: the first key, without its secret.
	again := a.idempotent("POST", "/v1/api-keys", admin, "zap-1", `{ "scopes": ["messages:send"], "label": "zapier" }`)
	if key := checkReplay(t, again.Status, again.Body); key["id"] != first.Body["id"] || strings.Contains(again.Raw, secret[16:]) ||
		strings.Contains(again.Raw, `secret":`) {
		t.Fatalf("replay: %s", again.Raw)
	}
	// The same Idempotency-Key with another request is refused.
	if r := a.idempotent("POST", "/v1/api-keys", admin, "zap-1", `{"label":"zapier 2"}`); r.Status != 422 || r.code() != "idempotency_key_reused" {
		t.Fatalf("reused key: %d %s", r.Status, r.Raw)
	}
	for _, bad := range []string{strings.Repeat("x", 256), "tab\there"} {
		if r := a.idempotent("POST", "/v1/api-keys", admin, bad, body); r.Status != 400 || r.code() != "validation_failed" {
			t.Fatalf("Idempotency-Key %q: %d %s", bad, r.Status, r.Raw)
		}
	}
	if ids := a.keyIDs(admin); len(ids) != 1 || ids[0] != first.Body["id"] {
		t.Fatalf("keys after retries: %v", ids)
	}

	// Another organisation's Idempotency-Keys are its own.
	if r := a.idempotent("POST", "/v1/api-keys", sessionOf("org_b", "u_b", "owner"), "zap-1", body); r.Status != 201 {
		t.Fatalf("same Idempotency-Key in org_b: %d %s", r.Status, r.Raw)
	}
	// Without the header, today's behaviour: every request makes a key.
	for range 2 {
		if r := a.idempotent("POST", "/v1/api-keys", admin, "", body); r.Status != 201 {
			t.Fatalf("without Idempotency-Key: %d %s", r.Status, r.Raw)
		}
	}
	if ids := a.keyIDs(admin); len(ids) != 3 {
		t.Fatalf("org_a has %d keys, want 3", len(ids))
	}
}

// 422 on roll: the Idempotency-Key of one roll sent with another request.
func TestIdempotentRoll422(t *testing.T) {
	a := newAPI(t)
	admin := sessionOf("org_a", "u_a", "admin")
	id, _ := a.createKey(admin, map[string]any{"label": "ci"})
	if r := a.idempotent("POST", "/v1/api-keys/"+id+"/roll", admin, "roll-1", `{"grace_period_seconds":60}`); r.Status != 201 {
		t.Fatalf("roll: %d %s", r.Status, r.Raw)
	}
	if r := a.idempotent("POST", "/v1/api-keys/"+id+"/roll", admin, "roll-1", `{"grace_period_seconds":120}`); r.Status != 422 || r.code() != "idempotency_key_reused" {
		t.Fatalf("reused key: %d %s", r.Status, r.Raw)
	}
	if ids := a.keyIDs(admin); len(ids) != 2 {
		t.Fatalf("%d keys, want the old one and one successor", len(ids))
	}
}
