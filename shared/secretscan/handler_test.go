package secretscan_test

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/flowella/apikeys/local/dynamotest"
	"github.com/flowella/apikeys/local/localscan"
	"github.com/flowella/apikeys/shared/apikey"
	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/secretscan"
	"github.com/flowella/apikeys/shared/stamp"
)

// countingDB is the endpoint's DynamoDB client (DynamoDB Local), counting
// the calls it makes.
type countingDB struct {
	*dynamodb.Client
	calls atomic.Int64
}

func (c *countingDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.calls.Add(1)
	return c.Client.GetItem(ctx, in, o...)
}

func (c *countingDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.calls.Add(1)
	return c.Client.PutItem(ctx, in, o...)
}

func (c *countingDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.calls.Add(1)
	return c.Client.UpdateItem(ctx, in, o...)
}

func (c *countingDB) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.calls.Add(1)
	return c.Client.Query(ctx, in, o...)
}

func (c *countingDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.calls.Add(1)
	return c.Client.TransactWriteItems(ctx, in, o...)
}

// fixture is the endpoint over DynamoDB Local, with GitHub's keys served on
// loopback and organisations org_a (on_exposure unset: revoke) and org_b
// (notify).
type fixture struct {
	t      *testing.T
	h      *secretscan.Handler
	db     *countingDB
	store  *keystore.Store // the test's own view, uncounted
	github *github
	signer *ecdsa.PrivateKey
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	raw, tables := dynamotest.Setup(t)
	db := &countingDB{Client: raw}
	signer := newKey(t)
	gh := newGitHub(t, &signer.PublicKey)
	quiet := slog.New(slog.DiscardHandler)
	keys, err := secretscan.NewPublicKeys(gh.srv.URL, quiet)
	if err != nil {
		t.Fatal(err)
	}
	scanned := keystore.New(db, tables["KeysTable"], tables["OrgsTable"])
	f := &fixture{t: t, db: db, store: keystore.New(raw, tables["KeysTable"], tables["OrgsTable"]), github: gh, signer: signer,
		h: &secretscan.Handler{Signatures: keys, Log: quiet,
			Scanner: &secretscan.Scanner{Keys: scanned, Orgs: scanned, Env: apikey.EnvLive, Log: quiet}}}
	ctx := context.Background()
	for _, org := range []string{"org_a", "org_b"} {
		if err := f.store.SetOrg(ctx, org, "paid", nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.store.SetOnExposure(ctx, "org_b", keystore.ExposureNotify); err != nil {
		t.Fatal(err)
	}
	return f
}

// key stores a new active key of org and returns its secret.
func (f *fixture) key(org string) (string, keystore.Key) {
	f.t.Helper()
	secret, err := apikey.Generate(apikey.EnvLive)
	if err != nil {
		f.t.Fatal(err)
	}
	c := keystore.Change{Op: keystore.OpCreate, At: stamp.Of(time.Now()), Actor: keystore.Actor{UserID: "u_1"}}
	k := keystore.Key{Hash: secret.Hash(), ID: keystore.NewID(), OrgID: org, Prefix: secret.Prefix(), Label: "ci",
		Scopes: []string{"*"}, Status: keystore.StatusActive, CreatedAt: c.At, CreatedBy: "u_1", LastChange: &c}
	if err := f.store.Create(context.Background(), k); err != nil {
		f.t.Fatal(err)
	}
	return secret.Secret(), f.read(secret.Secret())
}

func (f *fixture) read(secret string) keystore.Key {
	f.t.Helper()
	k, err := f.store.LookupByHash(context.Background(), apikey.Hash(secret))
	if err != nil {
		f.t.Fatal(err)
	}
	return k
}

func report(matches ...localscan.Match) []byte {
	b, _ := json.Marshal(matches)
	return b
}

func leak(token string) localscan.Match {
	return localscan.Match{Token: token, Type: localscan.TokenType, URL: "https://github.com/octo-org/app/blob/4f2a/.env", Source: "content"}
}

// event is GitHub's POST as API Gateway hands it to the function.
func event(body []byte, headers map[string]string) events.APIGatewayProxyRequest {
	h := map[string]string{"Content-Type": "application/json", "User-Agent": "GitHub-Hookshot/5e4a1b"}
	for k, v := range headers {
		h[k] = v
	}
	return events.APIGatewayProxyRequest{
		Resource: "/v1/secret-scanning/github", Path: "/v1/secret-scanning/github", HTTPMethod: http.MethodPost,
		Headers: h, Body: string(body),
		RequestContext: events.APIGatewayProxyRequestContext{RequestID: "req-gh-1",
			Identity: events.APIGatewayRequestIdentity{SourceIP: "140.82.115.10", UserAgent: "GitHub-Hookshot/5e4a1b"}},
	}
}

// signed is body signed with the published key.
func (f *fixture) signed(body []byte) events.APIGatewayProxyRequest {
	return event(body, map[string]string{
		secretscan.KeyIdentifierHeader: localscan.KeyID(&f.signer.PublicKey),
		secretscan.SignatureHeader:     sign(f.t, f.signer, body),
	})
}

func (f *fixture) post(req events.APIGatewayProxyRequest) (int, []secretscan.Feedback, map[string]any) {
	f.t.Helper()
	resp, err := f.h.Handle(context.Background(), req)
	if err != nil {
		f.t.Fatal(err)
	}
	if resp.StatusCode == http.StatusOK {
		var fb []secretscan.Feedback
		if err := json.Unmarshal([]byte(resp.Body), &fb); err != nil {
			f.t.Fatalf("feedback: %v: %s", err, resp.Body)
		}
		return resp.StatusCode, fb, nil
	}
	var e map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &e); err != nil {
		f.t.Fatalf("error body: %v: %s", err, resp.Body)
	}
	return resp.StatusCode, nil, e
}

func labels(fb []secretscan.Feedback) string {
	var out []string
	for _, f := range fb {
		out = append(out, f.Label)
	}
	return strings.Join(out, ",")
}

func TestReportedLiveKeyIsRevoked(t *testing.T) {
	f := newFixture(t)
	secret, before := f.key("org_a")
	body := report(leak(secret))
	status, fb, _ := f.post(f.signed(body))
	if status != 200 || len(fb) != 1 || fb[0].Label != secretscan.TruePositive || fb[0].TokenHash != apikey.Hash(secret) || fb[0].TokenType != localscan.TokenType {
		t.Fatalf("%d %+v", status, fb)
	}
	k := f.read(secret)
	if k.Status != keystore.StatusRevoked || k.RevokeReason != keystore.ReasonExposed || k.RevokedBy != secretscan.Actor ||
		k.ExposedAt.IsZero() || k.ExposedAt != k.RevokedAt || k.ExposureURL != leak(secret).URL || k.ExposureSource != "content" || k.Version != before.Version+1 {
		t.Fatalf("key after the report: %+v", k)
	}
	lc := k.LastChange
	if lc == nil || lc.Op != keystore.OpExpose || lc.Actor.UserID != secretscan.Actor || lc.Actor.IP != "140.82.115.10" ||
		lc.Trace.RequestID != "req-gh-1" || lc.ExposureURL != leak(secret).URL || lc.ExposureSource != "content" {
		t.Fatalf("last_change: %+v", lc)
	}
	if org, _ := f.store.GetOrg(context.Background(), "org_a"); org.ActiveKeys != 0 {
		t.Fatalf("active keys %d after the revoke, want 0", org.ActiveKeys)
	}

	// The same report again changes nothing, and answers the same.
	calls := f.db.calls.Load()
	status, again, _ := f.post(f.signed(body))
	if status != 200 || labels(again) != labels(fb) {
		t.Fatalf("again: %d %+v", status, again)
	}
	if after := f.read(secret); after.Version != k.Version || *after.LastChange != *k.LastChange {
		t.Fatalf("the second report changed the key: %+v", after)
	}
	if n := f.db.calls.Load() - calls; n != 1 {
		t.Fatalf("the second report made %d DynamoDB calls, want 1 (the lookup)", n)
	}
}

func TestNotifyKeepsTheKeyAndFlagsIt(t *testing.T) {
	f := newFixture(t)
	secret, before := f.key("org_b")
	first := leak(secret)
	if status, fb, _ := f.post(f.signed(report(first))); status != 200 || labels(fb) != "true_positive" {
		t.Fatalf("%d %+v", status, fb)
	}
	k := f.read(secret)
	if k.Status != keystore.StatusActive || !k.RevokedAt.IsZero() || k.ExposedAt.IsZero() || k.ExposureURL != first.URL || k.Version != before.Version+1 ||
		k.LastChange.Op != keystore.OpExpose {
		t.Fatalf("key after the report: %+v", k)
	}
	if org, _ := f.store.GetOrg(context.Background(), "org_b"); org.ActiveKeys != 1 {
		t.Fatalf("active keys %d, want 1", org.ActiveKeys)
	}
	// The same report again: nothing written.
	if status, _, _ := f.post(f.signed(report(first))); status != 200 {
		t.Fatal(status)
	}
	if again := f.read(secret); again.Version != k.Version {
		t.Fatalf("the second report wrote the key: version %d → %d", k.Version, again.Version)
	}
	// Found somewhere else: recorded (a new audit record), first exposure kept.
	elsewhere := first
	elsewhere.URL, elsewhere.Source = "https://gist.github.com/someone/0a1b2c", "gist"
	time.Sleep(5 * time.Millisecond)
	if status, _, _ := f.post(f.signed(report(elsewhere))); status != 200 {
		t.Fatal(status)
	}
	moved := f.read(secret)
	if moved.Version != k.Version+1 || moved.ExposedAt != k.ExposedAt || moved.ExposureURL != elsewhere.URL || moved.ExposureSource != "gist" {
		t.Fatalf("key after a report elsewhere: %+v", moved)
	}
	// The organisation turns revoke on: the next report revokes it.
	if err := f.store.SetOnExposure(context.Background(), "org_b", keystore.ExposureRevoke); err != nil {
		t.Fatal(err)
	}
	if status, _, _ := f.post(f.signed(report(elsewhere))); status != 200 {
		t.Fatal(status)
	}
	if k := f.read(secret); k.Status != keystore.StatusRevoked || k.RevokeReason != keystore.ReasonExposed {
		t.Fatalf("after on_exposure revoke: %+v", k)
	}
}

func TestFalsePositivesNeedNoStorage(t *testing.T) {
	f := newFixture(t)
	live, _ := f.key("org_a")
	wellFormedUnknown, err := apikey.Generate(apikey.EnvLive)
	if err != nil {
		t.Fatal(err)
	}
	testKey, _ := apikey.Generate(apikey.EnvTest)
	badChecksum := live[:len(live)-1] + flip(live[len(live)-1]) // one character of the checksum wrong
	noStorage := []localscan.Match{
		leak("ghp_16C7e42F292c6912E7710c838347Ae178B4a"), // another provider's token
		leak(badChecksum),                            // a typo of a real key
		leak(testKey.Secret()),                       // a key of the other environment
		leak("flwl_live_short"),                      // a look-alike
		leak(strings.ToUpper(live[:10]) + live[10:]), // the prefix in the wrong case
		leak(live + "x"),                             // too long
	}
	calls := f.db.calls.Load()
	status, fb, _ := f.post(f.signed(report(noStorage...)))
	if status != 200 || labels(fb) != strings.TrimSuffix(strings.Repeat("false_positive,", len(noStorage)), ",") {
		t.Fatalf("%d %+v", status, fb)
	}
	if n := f.db.calls.Load() - calls; n != 0 {
		t.Fatalf("%d DynamoDB calls for tokens that are not keys, want 0", n)
	}
	// A checksum-valid key this deployment never issued: one lookup, false positive.
	status, fb, _ = f.post(f.signed(report(leak(wellFormedUnknown.Secret()), leak(live), leak(live))))
	if status != 200 || labels(fb) != "false_positive,true_positive,true_positive" {
		t.Fatalf("%d %+v", status, fb)
	}
	for _, e := range fb {
		if strings.Contains(fmt.Sprint(e), "flwl_") {
			t.Fatalf("the feedback carries a token: %+v", e)
		}
	}
	if k := f.read(live); k.Status != keystore.StatusRevoked || k.Version != keystore.FirstVersion+1 {
		t.Fatalf("a key named twice: %+v", k)
	}
}

// Nothing about a report is trusted before its signature verifies: refused
// reports answer 401 (503 for a key identifier not among GitHub's keys
// fetched within the minute: to be sent again) and make no DynamoDB call.
func TestUnverifiedReportsChangeNothing(t *testing.T) {
	f := newFixture(t)
	secret, before := f.key("org_a")
	body := report(leak(secret))
	good := f.signed(body)
	stranger := newKey(t)
	for _, tc := range []struct {
		name string
		req  events.APIGatewayProxyRequest
	}{
		{"no signature headers", event(body, nil)},
		{"garbled signature", withHeader(good, secretscan.SignatureHeader, garble(t, good.Headers[secretscan.SignatureHeader]))},
		{"signature not base64", withHeader(good, secretscan.SignatureHeader, "%%%")},
		{"signature under an unknown key id", event(body, map[string]string{
			secretscan.KeyIdentifierHeader: localscan.KeyID(&stranger.PublicKey), secretscan.SignatureHeader: sign(t, stranger, body)})},
		{"the published key id, another key's signature", withHeader(good, secretscan.SignatureHeader, sign(t, stranger, body))},
		{"the same signature over a changed body", func() events.APIGatewayProxyRequest {
			r := good
			r.Body = strings.Replace(r.Body, ".env", ".env.local", 1)
			return r
		}()},
		{"an unsigned malformed body", event([]byte(`{{{`), nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := f.db.calls.Load()
			status, _, e := f.post(tc.req)
			want, code := 401, "unauthorized"
			if tc.name == "signature under an unknown key id" {
				want, code = 503, "unavailable"
			}
			if status != want || e["error"].(map[string]any)["code"] != code || e["request_id"] != "req-gh-1" {
				t.Fatalf("%d %v, want %d %s", status, e, want, code)
			}
			if n := f.db.calls.Load() - calls; n != 0 {
				t.Fatalf("%d DynamoDB calls for an unverified report", n)
			}
		})
	}
	if k := f.read(secret); k.Status != keystore.StatusActive || k.Version != before.Version {
		t.Fatalf("the key changed: %+v", k)
	}
}

func TestMalformedSignedReportIs400(t *testing.T) {
	f := newFixture(t)
	for _, body := range []string{`{"token":"x"}`, `[{"token":5}]`, `[{"type":"flowella_api_key"}]`, `not json`} {
		calls := f.db.calls.Load()
		status, _, e := f.post(f.signed([]byte(body)))
		if status != 400 || e["error"].(map[string]any)["code"] != "validation_failed" {
			t.Fatalf("%s: %d %v", body, status, e)
		}
		if n := f.db.calls.Load() - calls; n != 0 {
			t.Fatalf("%s: %d DynamoDB calls", body, n)
		}
	}
}

func TestGitHubKeysUnavailableIs503(t *testing.T) {
	f := newFixture(t)
	f.github.down.Store(true)
	secret, _ := f.key("org_a")
	resp, err := f.h.Handle(context.Background(), f.signed(report(leak(secret))))
	if err != nil || resp.StatusCode != 503 || resp.Headers["Retry-After"] == "" || !strings.Contains(resp.Body, `"unavailable"`) {
		t.Fatalf("%v %+v", err, resp)
	}
	if k := f.read(secret); k.Status != keystore.StatusActive {
		t.Fatalf("the key changed: %+v", k)
	}
}

// racingKeys changes a key (a PATCH) just before the endpoint's first write
// to it, so that the write finds it changed since it was read.
type racingKeys struct {
	*keystore.Store
	raced atomic.Bool
}

func (r *racingKeys) ExposeAll(ctx context.Context, keys []keystore.Key, revoke bool, c []keystore.Change) []error {
	if r.raced.CompareAndSwap(false, true) {
		label := "renamed meanwhile"
		patch := keystore.Change{Op: keystore.OpUpdate, At: stamp.Of(time.Now()), Actor: keystore.Actor{UserID: "u_1"}}
		if _, err := r.Store.Update(ctx, keys[0].OrgID, keys[0].ID, keystore.Changes{Label: &label}, patch); err != nil {
			return []error{err}
		}
	}
	return r.Store.ExposeAll(ctx, keys, revoke, c)
}

func TestKeyChangedMeanwhileIsReadAgain(t *testing.T) {
	f := newFixture(t)
	secret, _ := f.key("org_a")
	race := &racingKeys{Store: f.store}
	f.h.Scanner.Keys = race
	if status, fb, _ := f.post(f.signed(report(leak(secret)))); status != 200 || labels(fb) != "true_positive" {
		t.Fatalf("%d %+v", status, fb)
	}
	if k := f.read(secret); k.Status != keystore.StatusRevoked || k.Label != "renamed meanwhile" || k.Version != keystore.FirstVersion+2 {
		t.Fatalf("key: %+v", k)
	}
}

func withHeader(r events.APIGatewayProxyRequest, name, value string) events.APIGatewayProxyRequest {
	h := map[string]string{}
	for k, v := range r.Headers {
		h[k] = v
	}
	h[name] = value
	r.Headers = h
	return r
}

// garble flips one bit of a base64 signature's DER.
func garble(t *testing.T, sig string) string {
	t.Helper()
	return sig[:len(sig)/2] + flip(sig[len(sig)/2]) + sig[len(sig)/2+1:]
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}
