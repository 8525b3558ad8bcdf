package localstack_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/flowella/apikeys/shared/apikey"
)

// Tokens that name no key — none, garbage, a key with a bad checksum, a
// well-formed key nobody issued — are refused with 401 and belong to no
// key: however many are sent, the template's subscription filters deliver
// none of their lines, and the activity table gets nothing for them. A
// request with a real key sent after them, whose line follows theirs in the
// access log, shows that their lines had their chance to be delivered.
func TestJunkTokensWriteNothingToTheActivity(t *testing.T) {
	h := newHarness(t)
	var mu sync.Mutex
	var lines []string // every log line the subscriptions delivered
	h.stack.Logs.OnDelivered(func(_ string, payload []byte) {
		var ev events.CloudwatchLogsEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			t.Errorf("delivered batch: %v", err)
			return
		}
		data, err := ev.AWSLogs.Parse()
		if err != nil {
			t.Errorf("delivered batch: %v", err)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, e := range data.LogEvents {
			lines = append(lines, e.Message)
		}
	})
	admin := h.token("org_a", "u_admin", "admin")
	id, secret := h.createKey(admin, map[string]any{"label": "real"})
	env := apikey.EnvTest
	if strings.HasPrefix(secret, "flwl_live_") {
		env = apikey.EnvLive
	}
	unknown, err := apikey.Generate(env)
	if err != nil {
		t.Fatal(err)
	}
	junk := []string{"", "garbage", secret[:len(secret)-1] + "x", unknown.Secret()}
	const n = 40
	var junkIDs []string
	for i := range n {
		r := h.do("GET", "/v1/whoami", junk[i%len(junk)], nil)
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("junk token %d: %d %s", i%len(junk), r.Status, r.Raw)
		}
		junkIDs = append(junkIDs, r.ExtendedID)
	}
	// Every junk line is in the access log before the real request's: the
	// gateway writes its lines in order.
	for deadline := time.Now().Add(5 * time.Second); strings.Count(h.access.String(), `"status":"401"`) < n; {
		if time.Now().After(deadline) {
			t.Fatalf("access log has %d 401s, want %d", strings.Count(h.access.String(), `"status":"401"`), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	real := h.do("GET", "/v1/whoami", secret, nil)
	if real.Status != http.StatusOK {
		t.Fatalf("real key: %d %s", real.Status, real.Raw)
	}
	// Its batch delivered (and so recorded: OnDelivered follows the
	// function's answer), so every line before it has been too.
	for deadline := time.Now().Add(15 * time.Second); ; {
		mu.Lock()
		done := strings.Contains(strings.Join(lines, "\n"), real.ExtendedID)
		mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the real key's request not delivered after 15 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	delivered := strings.Join(lines, "\n")
	mu.Unlock()
	for _, rid := range junkIDs {
		if strings.Contains(delivered, rid) {
			t.Errorf("junk request %s delivered to the activity function", rid)
		}
	}
	out, err := h.db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(h.tables["ActivityTable"]), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range out.Items {
		var item struct {
			PK string `dynamodbav:"pk"`
		}
		if err := attributevalue.UnmarshalMap(it, &item); err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(item.PK, "#"+id) {
			t.Errorf("activity item %q written, of no key's request", item.PK)
		}
	}
	t.Logf("%d junk-token requests and 1 with a real key: %d activity items", n, len(out.Items))
}
