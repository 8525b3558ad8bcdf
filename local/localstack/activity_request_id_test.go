package localstack_test

import (
	"net/http"
	"testing"
	"time"
)

// API Gateway lets a client name its request (X-Amzn-RequestId, any UUID),
// so $context.requestId is the caller's choice. Someone using a leaked key
// who sends one id on every request must not fold them into one activity
// record: activity is keyed on the gateway's own extendedRequestId.
func TestActivityIsNotFoldedByAChosenRequestID(t *testing.T) {
	h := newHarness(t)
	admin := h.token("org_a", "u_admin", "admin")
	id, secret := h.createKey(admin, map[string]any{"label": "leaked"})
	const chosen = "11111111-2222-3333-4444-555555555555"
	send := func(want int) {
		t.Helper()
		req, _ := http.NewRequest("GET", h.srv.URL+"/v1/whoami", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("X-Amzn-RequestId", chosen)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want || resp.Header.Get("X-Amzn-RequestId") != chosen {
			t.Fatalf("status %d, request id %q", resp.StatusCode, resp.Header.Get("X-Amzn-RequestId"))
		}
	}
	for range 4 {
		send(http.StatusOK)
	}
	if r := h.do("POST", "/v1/api-keys/"+id+"/revoke", admin, nil); r.Status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.Status, r.Raw)
	}
	for range 3 {
		send(http.StatusUnauthorized)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := h.do("GET", "/v1/api-keys/"+id+"/activity?limit=100", admin, nil)
		items, _ := r.Body["items"].([]any)
		if complete(items) == 7 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("activity: %d items (%d complete), want 7 requests:\n%s", len(items), complete(items), r.Raw)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
