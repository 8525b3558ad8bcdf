package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/flowella/apikeys/local/syncbuf"
	"github.com/flowella/apikeys/shared/dynamo"
	"github.com/flowella/apikeys/shared/keystore"
)

// BenchmarkAuditDelay drives `make run` with admin writes at a steady rate
// (creates, relabels and revokes in turn, each sent on schedule whether or
// not the previous one has answered) and measures, for every change the API
// acknowledged, the delay from the acknowledgement to its audit record
// appearing in the audit table. Run it once:
//
//	go test -run '^$' -bench AuditDelay -benchtime 1x ./e2e/
//
// AUDIT_DELAY_RATE (writes a second, 50) and AUDIT_DELAY_SECONDS (20) change
// the load; AUDIT_DELAY_DATA_DIR puts the stack's data directory under
// another directory (/dev/shm: in memory).
func BenchmarkAuditDelay(b *testing.B) {
	rate := envInt("AUDIT_DELAY_RATE", 50)
	seconds := envInt("AUDIT_DELAY_SECONDS", 20)
	for range b.N {
		res := measureAuditDelay(b, rate, time.Duration(seconds)*time.Second)
		b.ReportMetric(float64(res.pct(50).Milliseconds()), "p50-ms")
		b.ReportMetric(float64(res.pct(99).Milliseconds()), "p99-ms")
		b.ReportMetric(float64(res.max().Milliseconds()), "max-ms")
		b.ReportMetric(res.achieved, "writes/s")
		b.Logf("%d writes at %d/s for %ds: %d acknowledged (%.1f/s), %d failed; audit delay p50 %v, p90 %v, p99 %v, max %v "+
			"(p50 %v in the first quarter, %v in the last); write latency p50 %v, p99 %v",
			res.sent, rate, seconds, len(res.delays), res.achieved, res.failed,
			ms(res.pct(50)), ms(res.pct(90)), ms(res.pct(99)), ms(res.max()), ms(pct(res.early, 50)), ms(pct(res.late, 50)),
			ms(pct(res.latencies, 50)), ms(pct(res.latencies, 99)))
	}
}

func ms(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

func envInt(name string, def int) int {
	var n int
	if _, err := fmt.Sscan(os.Getenv(name), &n); err != nil || n <= 0 {
		return def
	}
	return n
}

type delayResult struct {
	sent, failed int
	achieved     float64 // acknowledged writes a second
	delays       []time.Duration
	early, late  []time.Duration // of changes acknowledged in the load's first and last quarter
	latencies    []time.Duration
}

func (r delayResult) pct(p int) time.Duration { return pct(r.delays, p) }
func (r delayResult) max() time.Duration      { return pct(r.delays, 100) }

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p+99)/100 - 1
	return s[max(0, min(i, len(s)-1))]
}

type auditKey struct{ keyID, typ string }

type pending struct {
	mu      sync.Mutex
	sentAt  map[auditKey]time.Time // request sent
	ackedAt map[auditKey]time.Time // 2xx answer received
	seenAt  map[auditKey]time.Time // audit record first seen
}

func measureAuditDelay(tb testing.TB, rate int, d time.Duration) delayResult {
	port := freePortTB(tb)
	dataDir := tb.TempDir()
	if parent := os.Getenv("AUDIT_DELAY_DATA_DIR"); parent != "" {
		// e.g. /dev/shm: DynamoDB Local's disk commits out of the picture.
		var err error
		if dataDir, err = os.MkdirTemp(parent, "audit-delay-"); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = os.RemoveAll(dataDir) })
	}
	env := []string{"PORT=" + itoa(port), "FLOWELLA_DATA_DIR=" + dataDir,
		"SESSION_HS256_SECRET=e2e-secret-0123456789abcdef0123456789"}
	base := startStackTB(tb, env, port)
	token := tokenTB(tb, env)
	endpoint, err := os.ReadFile(filepath.Join(dataDir, "dynamodb", "endpoint"))
	if err != nil {
		tb.Fatal(err)
	}
	db, err := dynamo.NewWithEndpoint(context.Background(), strings.TrimSpace(string(endpoint)))
	if err != nil {
		tb.Fatal(err)
	}

	p := &pending{sentAt: map[auditKey]time.Time{}, ackedAt: map[auditKey]time.Time{}, seenAt: map[auditKey]time.Time{}}
	res := delayResult{}
	var mu sync.Mutex
	var created, relabelled []string // keys waiting for their next change
	var wg sync.WaitGroup
	send := func(method, path string, body any, typ string, idOf func(map[string]any) string, then func(id string)) {
		defer wg.Done()
		sent := time.Now()
		status, out := request(method, base+path, token, body)
		took := time.Since(sent)
		id := idOf(out)
		mu.Lock()
		defer mu.Unlock()
		if status/100 != 2 || id == "" {
			res.failed++
			return
		}
		res.latencies = append(res.latencies, took)
		p.mu.Lock()
		k := auditKey{id, typ}
		p.sentAt[k], p.ackedAt[k] = sent, time.Now()
		p.mu.Unlock()
		if then != nil {
			then(id)
		}
	}
	bodyID := func(m map[string]any) string { s, _ := m["id"].(string); return s }

	stopWatch := make(chan struct{})
	watched := make(chan struct{})
	go func() { defer close(watched); watchAudit(tb, db, p, stopWatch) }()

	tick := time.NewTicker(time.Second / time.Duration(rate))
	start := time.Now()
	for i := 0; time.Since(start) < d; i++ {
		<-tick.C
		mu.Lock()
		res.sent++
		wg.Add(1)
		switch {
		case i%3 == 1 && len(created) > 0:
			id := created[0]
			created = created[1:]
			go send("PATCH", "/v1/api-keys/"+id, map[string]any{"label": "relabelled"}, "api_key.label_changed",
				func(map[string]any) string { return id }, func(id string) { relabelled = append(relabelled, id) })
		case i%3 == 2 && len(relabelled) > 0:
			id := relabelled[0]
			relabelled = relabelled[1:]
			go send("POST", "/v1/api-keys/"+id+"/revoke", map[string]any{"reason": "benchmark"}, "api_key.revoked",
				func(map[string]any) string { return id }, nil)
		default:
			go send("POST", "/v1/api-keys", map[string]any{"label": fmt.Sprintf("bench %d", i)}, "api_key.created",
				bodyID, func(id string) { created = append(created, id) })
		}
		mu.Unlock()
	}
	tick.Stop()
	wg.Wait()
	elapsed := time.Since(start)

	// Wait for the last audit records.
	deadline := time.Now().Add(60 * time.Second)
	for {
		p.mu.Lock()
		missing := 0
		for k := range p.ackedAt {
			if _, ok := p.seenAt[k]; !ok {
				missing++
			}
		}
		p.mu.Unlock()
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d acknowledged changes without an audit record a minute after the load", missing)
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stopWatch)
	<-watched
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, acked := range p.ackedAt {
		delay := max(0, p.seenAt[k].Sub(acked))
		res.delays = append(res.delays, delay)
		switch since := acked.Sub(start); {
		case since < d/4:
			res.early = append(res.early, delay)
		case since >= d*3/4:
			res.late = append(res.late, delay)
		}
	}
	res.achieved = float64(len(res.delays)) / elapsed.Seconds()
	return res
}

// watchAudit reads the organisation's new audit records straight from the
// table every 50 ms and notes when each first appears. It reads from just
// before the oldest change still waiting for its record (audit sort keys
// start with the change's time).
func watchAudit(tb testing.TB, db *dynamodb.Client, p *pending, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-time.After(50 * time.Millisecond):
		}
		from := time.Now()
		p.mu.Lock()
		for k, sent := range p.sentAt {
			if _, seen := p.seenAt[k]; !seen && sent.Before(from) {
				from = sent
			}
		}
		p.mu.Unlock()
		kc := expression.Key("org_id").Equal(expression.Value("org_demo")).
			And(expression.Key("sk").GreaterThanEqual(expression.Value(keystore.FormatTime(from.Add(-2 * time.Second)))))
		expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
		if err != nil {
			tb.Error(err)
			return
		}
		pages := dynamodb.NewQueryPaginator(db, &dynamodb.QueryInput{TableName: aws.String("AuditTable"), ConsistentRead: aws.Bool(true),
			KeyConditionExpression: expr.KeyCondition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()})
		for pages.HasMorePages() {
			page, err := pages.NextPage(context.Background())
			if err != nil {
				break // DynamoDB Local busy: the next round reads it again
			}
			now := time.Now()
			var recs []struct {
				KeyID string `dynamodbav:"key_id"`
				Type  string `dynamodbav:"type"`
			}
			_ = attributevalue.UnmarshalListOfMaps(page.Items, &recs)
			p.mu.Lock()
			for _, r := range recs {
				k := auditKey{r.KeyID, r.Type}
				if _, ok := p.seenAt[k]; !ok {
					p.seenAt[k] = now
				}
			}
			p.mu.Unlock()
		}
	}
}

func request(method, url, token string, body any) (int, map[string]any) {
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(method, url, bytes.NewReader(b))
	if err != nil {
		return 0, nil
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m
}

// startStackTB is startStack for benchmarks: `make run` in its own process
// group, stopped with SIGINT (as Ctrl-C) at cleanup. It returns the base URL.
func startStackTB(tb testing.TB, env []string, port int) string {
	tb.Helper()
	cmd := exec.Command("make", "-s", "run")
	cmd.Dir = repoRootTB(tb)
	cmd.Env = append(append(os.Environ(), "KEY_ACTIVITY=on"), env...)
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = io.Discard, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	tb.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	deadline := time.Now().Add(3 * time.Minute)
	for !strings.Contains(out.String(), "local stack ready") {
		select {
		case <-done:
			tb.Fatalf("make run exited:\n%s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("make run not ready after 3 minutes:\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "http://127.0.0.1:" + itoa(port)
}

func tokenTB(tb testing.TB, env []string) string {
	tb.Helper()
	cmd := exec.Command("make", "-s", "token", "ORG=org_demo", "USER=u_bench", "ROLE=admin")
	cmd.Dir = repoRootTB(tb)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("make token: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func freePortTB(tb testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func repoRootTB(tb testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	return filepath.Dir(dir)
}
