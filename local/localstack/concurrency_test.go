package localstack_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
)

// TestConcurrentCallersGetTheirOwnAnswers drives the stack as a load test
// would: many clients, two organisations, API keys and session tokens mixed.
// Lambda never hands one execution environment two events at once; the local
// stack must keep every answer, and every authorizer decision, with its own
// request.
func TestConcurrentCallersGetTheirOwnAnswers(t *testing.T) {
	h := newHarness(t)
	type caller struct {
		org, token, keyID, path string
		api                     bool // true: whoami with an API key
	}
	var callers []caller
	for _, org := range []string{"org_a", "org_b"} {
		admin := h.token(org, "u_admin_"+org, "admin")
		id, secret := h.createKey(admin, map[string]any{"label": "load " + org})
		callers = append(callers,
			caller{org: org, token: secret, keyID: id, path: "/v1/whoami", api: true},
			caller{org: org, token: admin, keyID: id, path: "/v1/api-keys/" + id})
	}

	const clients, perClient = 16, 400
	var wrong, failed atomic.Int64
	var mu sync.Mutex
	var examples []string
	report := func(format string, args ...any) {
		wrong.Add(1)
		mu.Lock()
		if len(examples) < 5 {
			examples = append(examples, fmt.Sprintf(format, args...))
		}
		mu.Unlock()
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perClient {
				who := callers[(c+i)%len(callers)]
				req, _ := http.NewRequest(http.MethodGet, h.srv.URL+who.path, nil)
				req.Header.Set("Authorization", "Bearer "+who.token)
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var body struct {
					ID     string `json:"id"`
					KeyID  string `json:"key_id"`
					OrgID  string `json:"org_id"`
					Object string `json:"object"`
				}
				if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &body) != nil {
					report("%s as %s: %d %s", who.path, who.org, resp.StatusCode, raw)
					continue
				}
				got := body.ID
				if who.api {
					got = body.KeyID
					if body.OrgID != who.org {
						report("whoami for %s answered org %s", who.org, body.OrgID)
						continue
					}
				}
				if got != who.keyID {
					report("%s as %s answered key %q, want %q", who.path, who.org, got, who.keyID)
				}
			}
		}()
	}
	wg.Wait()
	total := clients * perClient
	t.Logf("%d requests from %d clients: %d answered for another request or failed, %d transport errors",
		total, clients, wrong.Load(), failed.Load())
	if wrong.Load() != 0 || failed.Load() != 0 {
		t.Fatalf("%d of %d answers were not their request's (%d transport errors); first: %v",
			wrong.Load(), total, failed.Load(), examples)
	}
}
