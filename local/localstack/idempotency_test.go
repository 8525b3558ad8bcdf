package localstack_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// lostResponse delivers the request and then loses the answer, as a client
// sees a timeout or a dropped connection after the server has acted.
type lostResponse struct{}

func (lostResponse) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return nil, errors.New("simulated: connection reset before the response arrived")
}

// sendIdempotent is harness.do with an Idempotency-Key (none when key is
// "") and a raw JSON body, through client; safe to call from goroutines.
func (h *harness) sendIdempotent(client *http.Client, method, path, token, key, body string) (response, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	raw := bodyCopy(resp)
	h.spec.check(h.t, req, resp, raw)
	out := response{Status: resp.StatusCode, Raw: string(raw), RequestID: resp.Header.Get("X-Amzn-RequestId")}
	_ = json.Unmarshal(raw, &out.Body)
	return out, nil
}

func (h *harness) idempotent(method, path, token, key, body string) response {
	h.t.Helper()
	r, err := h.sendIdempotent(http.DefaultClient, method, path, token, key, body)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

// keyIDs lists the ids of an organisation's keys, revoked ones included.
func (h *harness) keyIDs(token string) []string {
	h.t.Helper()
	r := h.do("GET", "/v1/api-keys?limit=100", token, nil)
	if r.Status != 200 {
		h.t.Fatalf("list: %d %s", r.Status, r.Raw)
	}
	var ids []string
	for _, it := range r.Body["items"].([]any) {
		ids = append(ids, it.(map[string]any)["id"].(string))
	}
	return ids
}

// replayedKey checks a replay answer and returns the key it names.
func replayedKey(t *testing.T, r response) map[string]any {
	t.Helper()
	key, _ := r.Body["key"].(map[string]any)
	if r.Status != 409 || code(r) != "idempotent_replay" || key == nil || strings.Contains(r.Raw, "secret\":") {
		t.Fatalf("want a replay: %d %s", r.Status, r.Raw)
	}
	msg := r.Body["error"].(map[string]any)["message"].(string)
	if !strings.Contains(msg, "cannot be shown again") || !strings.Contains(msg, "roll") || !strings.Contains(msg, "revoke") {
		t.Fatalf("replay message: %s", msg)
	}
	return key
}

func TestCreateRetriedAfterLostResponseLeavesOneKey(t *testing.T) {
	h := newHarness(t)
	admin := h.token("org_a", "u_a", "admin")
	const body = `{"label":"n8n production"}`
	lossy := &http.Client{Transport: lostResponse{}}
	if _, err := h.sendIdempotent(lossy, "POST", "/v1/api-keys", admin, "n8n-setup-7", body); err == nil {
		t.Fatal("the response was not lost")
	}
	// The client does not know whether the create happened, so it retries.
	key := replayedKey(t, h.idempotent("POST", "/v1/api-keys", admin, "n8n-setup-7", body))
	ids := h.keyIDs(admin)
	if len(ids) != 1 || ids[0] != key["id"] || key["status"] != "active" {
		t.Fatalf("keys %v, replay %v", ids, key)
	}
	// As the message says: roll it to get a secret.
	r := h.do("POST", "/v1/api-keys/"+ids[0]+"/roll", admin, nil)
	if r.Status != 201 || r.Body["secret"] == nil {
		t.Fatalf("roll of the replayed key: %d %s", r.Status, r.Raw)
	}
}

func TestConcurrentIdempotentCreatesMakeOneKey(t *testing.T) {
	h := newHarness(t)
	admin := h.token("org_a", "u_a", "admin")
	const n = 8
	results := make([]response, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = h.sendIdempotent(http.DefaultClient, "POST", "/v1/api-keys", admin, "burst-1", `{"label":"burst"}`)
		}()
	}
	wg.Wait()
	created := 0
	var outcomes []string
	for i, r := range results {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		outcomes = append(outcomes, fmt.Sprintf("%d %s", r.Status, code(r)))
		switch {
		case r.Status == 201:
			created++
		case r.Status == 409 && (code(r) == "idempotent_replay" || code(r) == "conflict"):
		default:
			t.Errorf("unexpected answer: %d %s", r.Status, r.Raw)
		}
	}
	if ids := h.keyIDs(admin); created != 1 || len(ids) != 1 {
		t.Fatalf("%d created, %d keys: %v", created, len(ids), outcomes)
	}
}

func TestRollRetriedAfterLostResponseLeavesOneReplacement(t *testing.T) {
	h := newHarness(t)
	admin := h.token("org_a", "u_a", "admin")
	oldID, _ := h.createKey(admin, map[string]any{"label": "ci"})
	path := "/v1/api-keys/" + oldID + "/roll"
	// With a grace period the old key stays active, so a plain retry would
	// make a second replacement.
	const body = `{"grace_period_seconds":3600}`
	lossy := &http.Client{Transport: lostResponse{}}
	if _, err := h.sendIdempotent(lossy, "POST", path, admin, "rotate-ci-1", body); err == nil {
		t.Fatal("the response was not lost")
	}
	key := replayedKey(t, h.idempotent("POST", path, admin, "rotate-ci-1", body))
	if key["rolled_from"] != oldID {
		t.Fatalf("replayed key: %v", key)
	}
	if r := h.idempotent("POST", path, admin, "rotate-ci-1", `{"grace_period_seconds":60}`); r.Status != 422 || code(r) != "idempotency_key_reused" {
		t.Fatalf("reused key: %d %s", r.Status, r.Raw)
	}
	if ids := h.keyIDs(admin); len(ids) != 2 {
		t.Fatalf("keys after a retried roll: %v", ids)
	}
	old := h.do("GET", "/v1/api-keys/"+oldID, admin, nil)
	if old.Body["rolled_to"] != key["id"] || old.Body["status"] != "active" {
		t.Fatalf("old key: %s", old.Raw)
	}

	// A revoke-now roll retried after the old key is revoked: still the replay.
	otherID, _ := h.createKey(admin, map[string]any{"label": "cron"})
	path = "/v1/api-keys/" + otherID + "/roll"
	first := h.idempotent("POST", path, admin, "rotate-cron-1", "")
	if first.Status != 201 {
		t.Fatalf("roll: %d %s", first.Status, first.Raw)
	}
	if key := replayedKey(t, h.idempotent("POST", path, admin, "rotate-cron-1", "")); key["id"] != first.Body["id"] {
		t.Fatalf("replay names %v, roll made %v", key["id"], first.Body["id"])
	}
	// Another Idempotency-Key on the revoked key: refused, as without one.
	if r := h.idempotent("POST", path, admin, "rotate-cron-2", ""); r.Status != 409 || code(r) != "conflict" {
		t.Fatalf("roll of a revoked key: %d %s", r.Status, r.Raw)
	}
	if ids := h.keyIDs(admin); len(ids) != 4 {
		t.Fatalf("org_a has %d keys, want 4", len(ids))
	}
}

func TestConcurrentIdempotentRollsMakeOneReplacement(t *testing.T) {
	h := newHarness(t)
	admin := h.token("org_a", "u_a", "admin")
	oldID, _ := h.createKey(admin, map[string]any{"label": "ci"})
	const n = 8
	results := make([]response, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = h.sendIdempotent(http.DefaultClient, "POST", "/v1/api-keys/"+oldID+"/roll", admin, "rotate-burst",
				`{"grace_period_seconds":600}`)
		}()
	}
	wg.Wait()
	var made string
	for i, r := range results {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		switch {
		case r.Status == 201:
			if made != "" {
				t.Fatalf("two replacements: %s and %v", made, r.Body["id"])
			}
			made = r.Body["id"].(string)
		case r.Status == 409 && (code(r) == "idempotent_replay" || code(r) == "conflict"):
		default:
			t.Errorf("unexpected answer: %d %s", r.Status, r.Raw)
		}
	}
	if made == "" {
		t.Fatal("no roll succeeded")
	}
	if ids := h.keyIDs(admin); len(ids) != 2 {
		t.Fatalf("keys after concurrent rolls: %v", ids)
	}
	if old := h.do("GET", "/v1/api-keys/"+oldID, admin, nil); old.Body["rolled_to"] != made {
		t.Fatalf("old key: %s", old.Raw)
	}
}
