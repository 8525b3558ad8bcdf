package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"
)

// BenchmarkActivityDelay drives `make run` with requests made with one API
// key at a steady rate (three allowed for one refused with 403, each sent on
// schedule) and measures, for every request, the delay from its answer to
// its record appearing in GET /v1/api-keys/{id}/activity (visible), and to
// the record holding both logs' part (complete: the access log's latency
// and, for a refusal, the authorizer's reason). Run it once:
//
//	go test -run '^$' -bench ActivityDelay -benchtime 1x ./e2e/
//
// ACTIVITY_DELAY_RATE (requests a second, 20) and ACTIVITY_DELAY_SECONDS
// (15) change the load.
func BenchmarkActivityDelay(b *testing.B) {
	rate := envInt("ACTIVITY_DELAY_RATE", 20)
	seconds := envInt("ACTIVITY_DELAY_SECONDS", 15)
	for range b.N {
		visible, complete, sent := measureActivityDelay(b, rate, time.Duration(seconds)*time.Second)
		b.ReportMetric(float64(pct(visible, 50).Milliseconds()), "p50-ms")
		b.ReportMetric(float64(pct(visible, 99).Milliseconds()), "p99-ms")
		b.ReportMetric(float64(pct(complete, 50).Milliseconds()), "complete-p50-ms")
		b.ReportMetric(float64(pct(complete, 99).Milliseconds()), "complete-p99-ms")
		b.Logf("%d requests at %d/s for %ds: visible in the activity after p50 %v, p99 %v, max %v; complete after p50 %v, p99 %v, max %v",
			sent, rate, seconds, ms(pct(visible, 50)), ms(pct(visible, 99)), ms(pct(visible, 100)),
			ms(pct(complete, 50)), ms(pct(complete, 99)), ms(pct(complete, 100)))
	}
}

func measureActivityDelay(tb testing.TB, rate int, d time.Duration) (visible, complete []time.Duration, sent int) {
	port := freePortTB(tb)
	dataDir := tb.TempDir()
	env := []string{"PORT=" + itoa(port), "FLOWELLA_DATA_DIR=" + dataDir,
		"SESSION_HS256_SECRET=e2e-secret-0123456789abcdef0123456789"}
	base := startStackTB(tb, env, port)
	token := tokenTB(tb, env)
	status, created := request("POST", base+"/v1/api-keys", token, map[string]any{"label": "delay", "scopes": []string{"messages:send"}})
	id, _ := created["id"].(string)
	secret, _ := created["secret"].(string)
	if status != http.StatusCreated || secret == "" {
		tb.Fatalf("create key: %d %v", status, created)
	}

	var mu sync.Mutex
	answered := map[string]time.Time{}
	seenAt, completeAt := map[string]time.Time{}, map[string]time.Time{}
	start := time.Now().Add(-time.Second)
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case <-stop:
				return
			case <-time.After(25 * time.Millisecond):
			}
			items := activityPages(tb, base, token, id, start)
			now := time.Now()
			mu.Lock()
			for _, a := range items {
				rid, _ := a["request_id"].(string)
				if _, ok := seenAt[rid]; !ok {
					seenAt[rid] = now
				}
				if _, ok := completeAt[rid]; !ok && a["latency_ms"] != nil && (a["outcome"] == "allowed" || a["reason"] != nil) {
					completeAt[rid] = now
				}
			}
			mu.Unlock()
		}
	}()

	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(rate))
	began := time.Now()
	for i := 0; time.Since(began) < d; i++ {
		<-tick.C
		path := "/v1/whoami"
		if i%4 == 3 {
			path = "/v1/contacts" // the key lacks contacts:read: 403
		}
		sent++
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", base+path, nil)
			req.Header.Set("Authorization", "Bearer "+secret)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			mu.Lock()
			answered[resp.Header.Get("x-amz-apigw-id")] = time.Now() // activity is keyed on the gateway's own id
			mu.Unlock()
		}()
	}
	tick.Stop()
	wg.Wait()
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		missing := 0
		for rid := range answered {
			if _, ok := completeAt[rid]; !ok {
				missing++
			}
		}
		mu.Unlock()
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d of %d requests not complete in the activity a minute after the load", missing, len(answered))
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	<-watched
	mu.Lock()
	defer mu.Unlock()
	if len(answered) != sent {
		tb.Fatalf("%d of %d requests answered", len(answered), sent)
	}
	for rid, at := range answered {
		visible = append(visible, max(0, seenAt[rid].Sub(at)))
		complete = append(complete, max(0, completeAt[rid].Sub(at)))
	}
	return visible, complete, sent
}

// activityPages reads every page of a key's activity since start.
func activityPages(tb testing.TB, base, token, id string, start time.Time) []map[string]any {
	var out []map[string]any
	cursor := ""
	for {
		q := url.Values{"since": {start.UTC().Format(time.RFC3339Nano)}, "limit": {"100"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/v1/api-keys/%s/activity?%s", base, id, q.Encode()), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return out
		}
		var page struct {
			Items      []map[string]any `json:"items"`
			NextCursor *string          `json:"next_cursor"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			tb.Errorf("activity: %d %v", resp.StatusCode, err)
			return out
		}
		out = append(out, page.Items...)
		if page.NextCursor == nil {
			return out
		}
		cursor = *page.NextCursor
	}
}
