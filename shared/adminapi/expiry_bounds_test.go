package adminapi_test

import (
	"encoding/json"
	"testing"
	"time"
)

// Issue 13, defect 4: expires_at reaches exactly five calendar years ahead,
// not five years and a day (5 * 366 days).
func TestExpiresAtAtMostFiveYears(t *testing.T) {
	h := newHandlers(t)
	now := time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC)
	h.Now = func() time.Time { return now }
	tests := []struct {
		name      string
		expiresAt time.Time
		status    int
	}{
		{"a minute ahead", now.Add(time.Minute), 201},
		{"under a minute", now.Add(59 * time.Second), 400},
		{"five years ahead, to the second", now.AddDate(5, 0, 0), 201},
		{"five years and a second", now.AddDate(5, 0, 0).Add(time.Second), 400},
		{"five years and a day (5 * 366 days, accepted before)", now.Add(5 * 366 * 24 * time.Hour), 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := sampleEvent(t, "create-key")
			b, _ := json.Marshal(map[string]any{"label": "expiring", "expires_at": tc.expiresAt.Format(time.RFC3339)})
			ev.Body = string(b)
			ev.Headers, ev.MultiValueHeaders = withoutIdempotencyKey(ev.Headers), withoutIdempotencyKey(ev.MultiValueHeaders)
			status, out := invoke(t, h.Create(), ev)
			if status != tc.status {
				t.Fatalf("expires_at %s: %d %v; want %d", tc.expiresAt.Format(time.RFC3339), status, out, tc.status)
			}
		})
	}
}
