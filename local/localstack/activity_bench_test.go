package localstack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/flowella/apikeys/local/apigw"
	"github.com/flowella/apikeys/local/dynamotest"
	"github.com/flowella/apikeys/local/localsession"
	"github.com/flowella/apikeys/local/localstack"
	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/samtemplate"
	"github.com/flowella/apikeys/shared/session"
)

// BenchmarkAuthorizerRecording measures, in one run and one loop, the
// authorizer of two local stacks on the same tables: one recording key
// activity (the template's subscription filters on, delivering to the
// activity function, which writes to DynamoDB Local meanwhile) and one not.
// Each iteration asks each authorizer for a decision (allowed, or refused
// with 403, which its subscription delivers), in alternating order, and
// sends one request through each gateway; it reports the median latencies
// and the on/off ratios of the medians and of the 99th percentiles.
//
//	scripts/dynamodb-local.sh run -- go test -run '^$' -bench AuthorizerRecording -benchtime 2000x ./local/localstack/
func BenchmarkAuthorizerRecording(b *testing.B) {
	db, tables := dynamotest.Setup(b)
	tpl, err := samtemplate.Load(dynamotest.TemplatePath(b))
	if err != nil {
		b.Fatal(err)
	}
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.DiscardHandler))
	b.Cleanup(func() { slog.SetDefault(prev) })
	build := func(off bool) (*localstack.Stack, *httptest.Server) {
		s, err := localstack.Build(context.Background(), localstack.Config{Template: tpl, DB: db,
			TableName: func(id string) string { return tables[id] }, Parameters: map[string]string{"SessionHS256Secret": testSecret},
			AccessLog: nil, LogSubscriptionsOff: off})
		if err != nil {
			b.Fatal(err)
		}
		srv := httptest.NewServer(s)
		b.Cleanup(srv.Close)
		return s, srv
	}
	on, onSrv := build(false)
	off, offSrv := build(true)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = on.Logs.Run(ctx) }()
	b.Cleanup(func() { cancel(); wg.Wait() })

	admin, err := localsession.IssueHS256(testSecret, session.Principal{UserID: "u_bench", OrgID: "org_a", Role: "admin"}, time.Hour, "", "")
	if err != nil {
		b.Fatal(err)
	}
	if err := keystore.New(db, tables["KeysTable"], tables["OrgsTable"]).SetOrg(context.Background(), "org_a", "paid", nil); err != nil {
		b.Fatal(err)
	}
	secret := benchKey(b, offSrv.URL, admin)
	event := func(path string) []byte {
		call := apigw.Call{RequestID: "bench", Stage: "local", Resource: path, Method: "GET", Path: path,
			Headers: map[string][]string{"Authorization": {"Bearer " + secret}}, SourceIP: "127.0.0.1", Time: time.Now(),
			AccountID: "000000000000", APIID: "local"}
		out, _ := json.Marshal(call.AuthorizerEvent())
		return out
	}
	allowed, refused := event("/v1/whoami"), event("/v1/contacts")
	_, _ = on.Handlers["AuthorizerFunction"].Invoke(context.Background(), allowed) // both stacks' plan caches warm
	_, _ = off.Handlers["AuthorizerFunction"].Invoke(context.Background(), allowed)
	var authOn, authOff, httpOn, httpOff []time.Duration
	timeAuth := func(s *localstack.Stack, ev []byte) time.Duration {
		start := time.Now()
		if _, err := s.Handlers["AuthorizerFunction"].Invoke(context.Background(), ev); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	timeHTTP := func(base string) time.Duration {
		start := time.Now()
		req, _ := http.NewRequest("GET", base+"/v1/whoami", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("whoami: %v %v", err, resp)
		}
		resp.Body.Close()
		return time.Since(start)
	}
	n := 0
	for b.Loop() {
		ev := allowed
		if n%4 >= 2 {
			ev = refused
		}
		if n%2 == 0 {
			authOn, authOff = append(authOn, timeAuth(on, ev)), append(authOff, timeAuth(off, ev))
			httpOn, httpOff = append(httpOn, timeHTTP(onSrv.URL)), append(httpOff, timeHTTP(offSrv.URL))
		} else {
			authOff, authOn = append(authOff, timeAuth(off, ev)), append(authOn, timeAuth(on, ev))
			httpOff, httpOn = append(httpOff, timeHTTP(offSrv.URL)), append(httpOn, timeHTTP(onSrv.URL))
		}
		n++
	}
	b.StopTimer()
	report := func(name string, on, off []time.Duration) {
		p50on, p50off := percentile(on, 50), percentile(off, 50)
		b.ReportMetric(float64(p50on.Microseconds()), "µs-p50/"+name+"-on")
		b.ReportMetric(float64(p50off.Microseconds()), "µs-p50/"+name+"-off")
		b.ReportMetric(float64(p50on)/float64(p50off), name+"-p50-on/off")
		b.ReportMetric(float64(percentile(on, 99))/float64(percentile(off, 99)), name+"-p99-on/off")
	}
	report("authorizer", authOn, authOff)
	report("request", httpOn, httpOff)
}

func percentile(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[max(0, min(len(s)-1, (len(s)*p+99)/100-1))]
}

// benchKey creates a key with messages:send only (so /v1/contacts is a 403)
// and returns its secret.
func benchKey(b *testing.B, base, admin string) string {
	body, _ := json.Marshal(map[string]any{"label": "bench", "scopes": []string{"messages:send"}})
	req, _ := http.NewRequest("POST", base+"/v1/api-keys", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+admin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	secret, _ := out["secret"].(string)
	if resp.StatusCode != http.StatusCreated || secret == "" {
		b.Fatalf("create key: %d %v", resp.StatusCode, out)
	}
	return secret
}
