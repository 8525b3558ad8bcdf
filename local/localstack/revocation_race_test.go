package localstack_test

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Revocation is immediate: with 200 clients using a key while an admin
// revokes it, no request sent after the revoke's response is allowed.
func TestNoRequestAllowedAfterTheRevokeAnswers(t *testing.T) {
	h := newHarness(t)
	admin := h.token("org_a", "u_admin", "admin")
	id, secret := h.createKey(admin, map[string]any{"label": "raced"})

	const clients, afterEach = 200, 3
	var revokedAt atomic.Pointer[time.Time]
	var before, beforeAllowed, after, afterAllowed, failed atomic.Int64
	started := make(chan struct{}, clients)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sentAfter := 0
			for i := 0; sentAfter < afterEach && i < 1000; i++ {
				sent := time.Now()
				afterRevoke := revokedAt.Load() != nil && sent.After(*revokedAt.Load())
				req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/v1/whoami", nil)
				req.Header.Set("Authorization", "Bearer "+secret)
				resp, err := client.Do(req)
				if i == 0 {
					started <- struct{}{}
				}
				if err != nil {
					failed.Add(1)
					continue
				}
				resp.Body.Close()
				allowed := resp.StatusCode == http.StatusOK
				if !allowed && resp.StatusCode != http.StatusUnauthorized {
					failed.Add(1)
				}
				switch {
				case afterRevoke:
					sentAfter++
					after.Add(1)
					if allowed {
						afterAllowed.Add(1)
					}
				default:
					before.Add(1)
					if allowed {
						beforeAllowed.Add(1)
					}
				}
			}
		}()
	}
	for range clients {
		<-started
	}
	if r := h.do("POST", "/v1/api-keys/"+id+"/revoke", admin, nil); r.Status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.Status, r.Raw)
	}
	now := time.Now()
	revokedAt.Store(&now)
	wg.Wait()
	t.Logf("sent before the revoke answered: %d (%d allowed); after: %d (%d allowed); failures: %d",
		before.Load(), beforeAllowed.Load(), after.Load(), afterAllowed.Load(), failed.Load())
	if afterAllowed.Load() != 0 || failed.Load() != 0 {
		t.Fatalf("%d requests sent after the revoke answered were allowed (%d failed otherwise)", afterAllowed.Load(), failed.Load())
	}
	if after.Load() != clients*afterEach || beforeAllowed.Load() == 0 {
		t.Fatalf("the race did not happen: %d before (%d allowed), %d after", before.Load(), beforeAllowed.Load(), after.Load())
	}
}
