package localstack_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/flowella/apikeys/local/dynamotest"
	"github.com/flowella/apikeys/local/localsession"
	"github.com/flowella/apikeys/local/localstack"
	"github.com/flowella/apikeys/shared/apikey"
	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/samtemplate"
	"github.com/flowella/apikeys/shared/session"
)

// BenchmarkWhoamiPath is the local path of GET /v1/whoami made with an API
// key — gateway, authorizer, handler, access log, log subscriptions and key
// activity recording on — against a bare strongly consistent GetItem of the
// key's item on the same DynamoDB Local, alternating, in one process, so
// that a CPU profile shows where the local path spends (cmd/bench measures
// make run itself):
//
//	scripts/dynamodb-local.sh run -- go test -run '^$' -bench WhoamiPath -benchtime 3000x -cpuprofile cpu.out ./local/localstack/
func BenchmarkWhoamiPath(b *testing.B) {
	const secret = "whoami-bench-secret-0123456789abcdef0123"
	db, tables := dynamotest.Setup(b)
	tpl, err := samtemplate.Load(dynamotest.TemplatePath(b))
	if err != nil {
		b.Fatal(err)
	}
	// As make run logs: text on stderr (here formatted, then dropped).
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	b.Cleanup(func() { slog.SetDefault(prev) })
	s, err := localstack.Build(context.Background(), localstack.Config{Template: tpl, DB: db,
		TableName: func(id string) string { return tables[id] }, Parameters: map[string]string{"SessionHS256Secret": secret},
		AccessLog: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(s)
	b.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = s.Logs.Run(ctx) })
	b.Cleanup(func() { cancel(); wg.Wait() })
	if err := keystore.New(db, tables["KeysTable"], tables["OrgsTable"]).SetOrg(ctx, "org_a", "paid", nil); err != nil {
		b.Fatal(err)
	}
	admin, err := localsession.IssueHS256(secret, session.Principal{UserID: "u_bench", OrgID: "org_a", Role: "admin"}, time.Hour, "", "")
	if err != nil {
		b.Fatal(err)
	}
	req, _ := http.NewRequest("POST", srv.URL+"/v1/api-keys", strings.NewReader(`{"label":"bench"}`))
	req.Header.Set("Authorization", "Bearer "+admin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	var created struct{ Secret string }
	_ = json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b.Fatalf("create key: %d", resp.StatusCode)
	}
	getIn := &dynamodb.GetItemInput{TableName: aws.String(tables["KeysTable"]), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"key_hash": &types.AttributeValueMemberS{Value: apikey.Hash(created.Secret)}}}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	whoami := func() time.Duration {
		start := time.Now()
		req, _ := http.NewRequest("GET", srv.URL+"/v1/whoami", nil)
		req.Header.Set("Authorization", "Bearer "+created.Secret)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("whoami: %d", resp.StatusCode)
		}
		return time.Since(start)
	}
	getItem := func() time.Duration {
		start := time.Now()
		if out, err := db.GetItem(ctx, getIn); err != nil || out.Item == nil {
			b.Fatalf("GetItem: %v", err)
		}
		return time.Since(start)
	}
	for range 200 {
		whoami()
		getItem()
	}
	var who, get []time.Duration
	n := 0
	for b.Loop() {
		if n%2 == 0 {
			who, get = append(who, whoami()), append(get, getItem())
		} else {
			get, who = append(get, getItem()), append(who, whoami())
		}
		n++
	}
	b.StopTimer()
	b.ReportMetric(float64(percentile(who, 50).Microseconds()), "µs-p50/whoami")
	b.ReportMetric(float64(percentile(get, 50).Microseconds()), "µs-p50/getitem")
	b.ReportMetric(float64(percentile(who, 50))/float64(percentile(get, 50)), "p50-whoami/getitem")
	b.ReportMetric(float64(percentile(who, 99))/float64(percentile(get, 99)), "p99-whoami/getitem")
}
