package localstack_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowella/apikeys/local/localscan"
	"github.com/flowella/apikeys/shared/apikey"
	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/secretscan"
	"github.com/flowella/apikeys/shared/stamp"
)

// githubKeys stands in for api.github.com's secret scanning keys, on
// loopback, with a key pair made for the test.
func githubKeys(t *testing.T) (*ecdsa.PrivateKey, string) {
	t.Helper()
	key, err := localscan.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := localscan.Document(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	}))
	t.Cleanup(srv.Close)
	return key, srv.URL
}

// scanningHarness is the local stack with its secret scanning endpoint
// reading the test's GitHub keys.
func scanningHarness(t *testing.T) (*harness, *ecdsa.PrivateKey) {
	t.Helper()
	signer, url := githubKeys(t)
	return newHarnessWith(t, map[string]string{"SecretScanningKeysUrl": url}), signer
}

const leakURL = "https://github.com/octo-org/deploy-scripts/blob/9f1c2e/.env"

func leaks(tokens ...string) []byte {
	matches := make([]localscan.Match, len(tokens))
	for i, tok := range tokens {
		matches[i] = localscan.Match{Token: tok, Type: localscan.TokenType, URL: leakURL, Source: "content"}
	}
	b, _ := json.Marshal(matches)
	return b
}

// report posts body to the endpoint as GitHub does, signed by signer;
// edit may spoil the request. The answer is checked against api/openapi.yaml.
func (h *harness) report(signer *ecdsa.PrivateKey, body []byte, edit func(*http.Request)) (int, []secretscan.Feedback, string) {
	h.t.Helper()
	req, err := localscan.Request(h.srv.URL+"/v1/secret-scanning/github", signer, body)
	if err != nil {
		h.t.Fatal(err)
	}
	if edit != nil {
		edit(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw := bodyCopy(resp)
	h.spec.check(h.t, req, resp, raw)
	var fb []secretscan.Feedback
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, &fb); err != nil {
			h.t.Fatalf("feedback: %v: %s", err, raw)
		}
	}
	return resp.StatusCode, fb, string(raw)
}

func auditOfType(items []map[string]any, typ, keyID string) map[string]any {
	for _, it := range items {
		if it["type"] == typ && it["key_id"] == keyID {
			return it
		}
	}
	return nil
}

func TestLeakedKeyRevokesItself(t *testing.T) {
	h, signer := scanningHarness(t)
	owner := h.token("org_a", "u_owner", "owner")
	id, secret := h.createKey(owner, map[string]any{"label": "deploy bot"})
	if r := h.do("GET", "/v1/whoami", secret, nil); r.Status != 200 {
		t.Fatalf("whoami before: %d %s", r.Status, r.Raw)
	}

	status, fb, raw := h.report(signer, leaks(secret), nil)
	if status != 200 || len(fb) != 1 || fb[0].Label != secretscan.TruePositive || fb[0].TokenHash != apikey.Hash(secret) || fb[0].TokenType != localscan.TokenType {
		t.Fatalf("report: %d %s", status, raw)
	}
	if strings.Contains(raw, secret[16:]) {
		t.Fatalf("the answer carries the key: %s", raw)
	}
	if r := h.do("GET", "/v1/whoami", secret, nil); r.Status != 401 {
		t.Fatalf("whoami after the report: %d %s", r.Status, r.Raw)
	}
	k := h.do("GET", "/v1/api-keys/"+id, owner, nil)
	if k.Status != 200 || k.Body["status"] != "revoked" || k.Body["revoke_reason"] != "exposed" || k.Body["revoked_by"] != secretscan.Actor ||
		k.Body["exposed_at"] == nil || k.Body["exposed_at"] != k.Body["revoked_at"] || k.Body["exposure_url"] != leakURL {
		t.Fatalf("key after the report: %d %s", k.Status, k.Raw)
	}

	// The audit log: the exposure (where, by whom) and the revoke.
	items := h.waitAudit("org_a", 3)
	exposed, revoked := auditOfType(items, "api_key.exposed", id), auditOfType(items, "api_key.revoked", id)
	if exposed == nil || revoked == nil || len(items) != 3 {
		t.Fatalf("audit records: %v", items)
	}
	actor, after := exposed["actor"].(map[string]any), exposed["after"].(map[string]any)
	if actor["user_id"] != secretscan.Actor || actor["ip"] != "127.0.0.1" || actor["user_agent"] != "GitHub-Hookshot/local" ||
		after["exposure_url"] != leakURL || after["exposure_source"] != "content" || after["status"] != "revoked" {
		t.Fatalf("api_key.exposed: %v", exposed)
	}
	if revoked["after"].(map[string]any)["revoke_reason"] != "exposed" || revoked["actor"].(map[string]any)["user_id"] != secretscan.Actor {
		t.Fatalf("api_key.revoked: %v", revoked)
	}
	if r := h.do("GET", "/v1/audit-events?type=api_key.exposed", owner, nil); r.Status != 200 || len(r.Body["items"].([]any)) != 1 {
		t.Fatalf("audit filtered by type: %d %s", r.Status, r.Raw)
	}

	// GitHub sends the same report again: the same answer, nothing changed.
	status, again, _ := h.report(signer, leaks(secret), nil)
	if status != 200 || len(again) != 1 || again[0] != fb[0] {
		t.Fatalf("again: %d %v", status, again)
	}
	if k2 := h.do("GET", "/v1/api-keys/"+id, owner, nil); k2.Raw != k.Raw {
		t.Fatalf("the second report changed the key:\n%s\n%s", k.Raw, k2.Raw)
	}
	time.Sleep(300 * time.Millisecond) // a record would have come by now
	if n := len(h.auditItems("org_a")); n != 3 {
		t.Fatalf("%d audit records after the second report, want 3", n)
	}
	logged := false
	for _, line := range strings.Split(h.access.String(), "\n") {
		var e struct{ Path, Status string }
		if json.Unmarshal([]byte(line), &e) == nil && e.Path == "/v1/secret-scanning/github" && e.Status == "200" {
			logged = true
		}
	}
	if !logged {
		t.Fatalf("no access log line for the report:\n%s", h.access.String())
	}
}

func TestExposedKeyUnderNotifyIsFlagged(t *testing.T) {
	h, signer := scanningHarness(t)
	if err := h.store.SetOnExposure(context.Background(), "org_b", keystore.ExposureNotify); err != nil {
		t.Fatal(err)
	}
	admin := h.token("org_b", "u_admin", "admin")
	quiet, _ := h.createKey(admin, map[string]any{"label": "never leaked"})
	id, secret := h.createKey(admin, map[string]any{"label": "n8n"})
	if status, fb, raw := h.report(signer, leaks(secret), nil); status != 200 || len(fb) != 1 || fb[0].Label != secretscan.TruePositive {
		t.Fatalf("report: %d %s", status, raw)
	}
	if r := h.do("GET", "/v1/whoami", secret, nil); r.Status != 200 {
		t.Fatalf("a flagged key stops working: %d %s", r.Status, r.Raw)
	}
	k := h.do("GET", "/v1/api-keys/"+id, admin, nil)
	if k.Body["status"] != "active" || k.Body["exposed_at"] == nil || k.Body["exposure_url"] != leakURL ||
		!slices.Contains(k.Body["flags"].([]any), any("exposed")) || k.Body["revoked_at"] != nil {
		t.Fatalf("flagged key: %s", k.Raw)
	}
	ids := func(query string) []string {
		r := h.do("GET", "/v1/api-keys"+query, admin, nil)
		if r.Status != 200 {
			t.Fatalf("list%s: %d %s", query, r.Status, r.Raw)
		}
		var out []string
		for _, it := range r.Body["items"].([]any) {
			out = append(out, it.(map[string]any)["id"].(string))
		}
		return out
	}
	if got := ids("?exposed=true"); !slices.Equal(got, []string{id}) {
		t.Fatalf("exposed keys: %v", got)
	}
	if got := ids("?exposed=true&status=active"); !slices.Equal(got, []string{id}) {
		t.Fatalf("exposed active keys: %v", got)
	}
	if got := ids(""); !slices.Equal(got, []string{id, quiet}) {
		t.Fatalf("all keys: %v", got)
	}
	if r := h.do("GET", "/v1/api-keys?exposed=yes", admin, nil); r.Status != 400 || code(r) != "validation_failed" {
		t.Fatalf("exposed=yes: %d %s", r.Status, r.Raw)
	}
	items := h.waitAudit("org_b", 3)
	if e := auditOfType(items, "api_key.exposed", id); e == nil || e["after"].(map[string]any)["status"] != "active" || auditOfType(items, "api_key.revoked", id) != nil {
		t.Fatalf("audit records: %v", items)
	}
	// Reported again from the same place: nothing more.
	if status, _, _ := h.report(signer, leaks(secret), nil); status != 200 {
		t.Fatal(status)
	}
	if k2 := h.do("GET", "/v1/api-keys/"+id, admin, nil); k2.Raw != k.Raw {
		t.Fatalf("the second report changed the key:\n%s\n%s", k.Raw, k2.Raw)
	}
}

func TestUnverifiedReportsAreRefused(t *testing.T) {
	h, signer := scanningHarness(t)
	owner := h.token("org_a", "u_owner", "owner")
	_, secret := h.createKey(owner, map[string]any{"label": "ci"})
	stranger, err := localscan.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	body := leaks(secret)
	for _, tc := range []struct {
		name string
		edit func(*http.Request)
	}{
		{"no signature", func(r *http.Request) {
			r.Header.Del(secretscan.SignatureHeader)
			r.Header.Del(secretscan.KeyIdentifierHeader)
		}},
		{"garbled signature", func(r *http.Request) {
			sig := r.Header.Get(secretscan.SignatureHeader)
			r.Header.Set(secretscan.SignatureHeader, sig[:20]+strings.Map(func(c rune) rune {
				if c == 'A' {
					return 'B'
				}
				return 'A'
			}, sig[20:21])+sig[21:])
		}},
		{"signature under an unknown key id", func(r *http.Request) {
			sig, _ := localscan.Sign(stranger, body)
			r.Header.Set(secretscan.KeyIdentifierHeader, localscan.KeyID(&stranger.PublicKey))
			r.Header.Set(secretscan.SignatureHeader, sig)
		}},
		{"the same signature over a changed body", func(r *http.Request) {
			changed := []byte(strings.Replace(string(body), "9f1c2e", "9f1c2f", 1))
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(changed)), int64(len(changed))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, raw := h.report(signer, body, tc.edit)
			want, code := 401, `"code":"unauthorized"`
			if tc.name == "signature under an unknown key id" {
				// GitHub's keys were fetched within the minute (the first
				// case): to be sent again, not refused.
				want, code = 503, `"code":"unavailable"`
			}
			if status != want || !strings.Contains(raw, code) {
				t.Fatalf("%d %s, want %d %s", status, raw, want, code)
			}
		})
	}
	if r := h.do("GET", "/v1/whoami", secret, nil); r.Status != 200 {
		t.Fatalf("the key changed: %d %s", r.Status, r.Raw)
	}

	// Signed, but not a report: 400.
	if status, _, raw := h.report(signer, []byte(`{"token":"`+secret+`"}`), nil); status != 400 || !strings.Contains(raw, "validation_failed") {
		t.Fatalf("malformed: %d %s", status, raw)
	}
	// Signed: another provider's token and a checksum-valid key nobody
	// issued are false positives; the real key is true.
	unknown, _ := apikey.Generate(apikey.EnvLive)
	status, fb, raw := h.report(signer, leaks("ghp_16C7e42F292c6912E7710c838347Ae178B4a", unknown.Secret(), secret), nil)
	if status != 200 || len(fb) != 3 || fb[0].Label != secretscan.FalsePositive || fb[1].Label != secretscan.FalsePositive || fb[2].Label != secretscan.TruePositive {
		t.Fatalf("mixed report: %d %s", status, raw)
	}
}

// 500 keys of one organisation in one report, each looked up and revoked
// through the template's role, as API Gateway would wait for them (29 s).
func TestReportOf500Keys(t *testing.T) {
	h, signer := scanningHarness(t)
	ctx := context.Background()
	const n = 500
	secrets := make([]string, n)
	for i := range secrets {
		key, err := apikey.Generate(apikey.EnvLive)
		if err != nil {
			t.Fatal(err)
		}
		at := stamp.Of(time.Now())
		c := keystore.Change{Op: keystore.OpCreate, At: at, Actor: keystore.Actor{UserID: "u_seed"}}
		if err := h.store.Create(ctx, keystore.Key{Hash: key.Hash(), ID: keystore.NewID(), OrgID: "org_a", Prefix: key.Prefix(), Label: "bulk",
			Scopes: []string{"*"}, Status: keystore.StatusActive, CreatedAt: at, CreatedBy: "u_seed", LastChange: &c}); err != nil {
			t.Fatal(err)
		}
		secrets[i] = key.Secret()
	}
	body := leaks(secrets...)
	start := time.Now()
	status, fb, raw := h.report(signer, body, nil)
	took := time.Since(start)
	if status != 200 || len(fb) != n {
		t.Fatalf("report: %d %.300s", status, raw)
	}
	for i, f := range fb {
		if f.Label != secretscan.TruePositive {
			t.Fatalf("token %d: %+v", i, f)
		}
	}
	t.Logf("%d keys of one organisation in one report (%d bytes): answered in %v, every key revoked", n, len(body), took.Round(time.Millisecond))
	if took > 29*time.Second {
		t.Fatalf("answered in %v: API Gateway gives up at 29 s", took)
	}
	for _, i := range []int{0, n / 2, n - 1} {
		if r := h.do("GET", "/v1/whoami", secrets[i], nil); r.Status != 401 {
			t.Fatalf("key %d after the report: %d", i, r.Status)
		}
	}
	if org, err := h.store.GetOrg(ctx, "org_a"); err != nil || org.ActiveKeys != 0 {
		t.Fatalf("org_a: %+v %v", org, err)
	}
}
