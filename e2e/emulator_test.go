package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/flowella/apikeys/local/dynamotest"
	"github.com/flowella/apikeys/local/locallogs"
	"github.com/flowella/apikeys/local/syncbuf"
	"github.com/flowella/apikeys/shared/apikey"
	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/samtemplate"
	"github.com/flowella/apikeys/shared/stamp"
)

// rieFunction is one built bootstrap running under aws-lambda-rie.
type rieFunction struct {
	cmd    *exec.Cmd
	invoke string
	log    *syncbuf.Buffer
}

func startRIE(t *testing.T, rie, bootstrap string, env map[string]string) *rieFunction {
	t.Helper()
	apiPort, runtimePort := freePort(t), freePort(t)
	cmd := exec.Command(rie,
		"--runtime-interface-emulator-address", "127.0.0.1:"+itoa(apiPort),
		"--runtime-api-address", "127.0.0.1:"+itoa(runtimePort),
		bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	f := &rieFunction{cmd: cmd, log: &syncbuf.Buffer{},
		invoke: fmt.Sprintf("http://127.0.0.1:%d/2015-03-31/functions/function/invocations", apiPort)}
	cmd.Stdout, cmd.Stderr = f.log, f.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", apiPort), 20*time.Second)
	return f
}

func (f *rieFunction) call(t *testing.T, event []byte) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", f.invoke, bytes.NewReader(event))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("invoke: %v\n%s", err, f.log.String())
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("answer is not JSON: %q\n%s", raw, f.log.String())
	}
	return out
}

func sample(t *testing.T, name string, edit func(map[string]any)) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "events", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if edit == nil {
		return b
	}
	var ev map[string]any
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	edit(ev)
	out, _ := json.Marshal(ev)
	return out
}

// proxyBody decodes the body of an API Gateway proxy response.
func proxyBody(t *testing.T, resp map[string]any, wantStatus int) map[string]any {
	t.Helper()
	if got, _ := resp["statusCode"].(float64); int(got) != wantStatus {
		t.Fatalf("statusCode %v, want %d: %v", resp["statusCode"], wantStatus, resp)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(resp["body"].(string)), &body); err != nil {
		t.Fatal(err)
	}
	return body
}

// Every function is built as sam build builds it (make build-<LogicalId>),
// for this machine's architecture so it can run here, and invoked with its
// sample event under the Lambda Runtime Interface Emulator.
func TestBuiltBinariesUnderTheEmulator(t *testing.T) {
	root := repoRoot(t)
	rie := filepath.Join(root, ".local", "bin", "aws-lambda-rie")
	if _, err := os.Stat(rie); err != nil {
		t.Fatalf("%s is missing: run the tests with `make test`, which installs it", rie)
	}
	db, tables := dynamotest.Setup(t)
	if err := keystore.New(db, tables["KeysTable"], tables["OrgsTable"]).SetOrg(context.Background(), "org_demo", "paid", []string{"audit_log"}); err != nil {
		t.Fatal(err)
	}
	tpl, err := samtemplate.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// GitHub's secret scanning keys: the one that signed the sample report.
	githubKeys := httptest.NewServer(http.FileServer(http.Dir(filepath.Join(root, "events"))))
	t.Cleanup(githubKeys.Close)
	artifacts := t.TempDir()
	fns := map[string]*rieFunction{}
	for _, fn := range tpl.Functions() {
		dir := filepath.Join(artifacts, fn)
		makeOutput(t, nil, "build-"+fn, "ARTIFACTS_DIR="+dir, "GOARCH_LAMBDA="+runtime.GOARCH)
		env, err := tpl.Environment(fn, map[string]string{
			"SessionHS256Secret":    "rie-secret-0123456789abcdef0123456789",
			"DynamoDBEndpoint":      os.Getenv("DYNAMODB_ENDPOINT"),
			"SecretScanningKeysUrl": githubKeys.URL + "/secret-scanning-public-keys.json",
		}, func(id string) string { return tables[id] })
		if err != nil {
			t.Fatal(err)
		}
		fns[fn] = startRIE(t, rie, filepath.Join(dir, "bootstrap"), env)
	}
	if len(fns) != 15 {
		t.Fatalf("%d functions in the template, want 15", len(fns))
	}

	for _, ev := range []string{"authorizer-request", "authorizer-token", "authorizer-http-v2"} {
		// The samples carry a malformed key: refused as 401, without DynamoDB.
		if got := fns["AuthorizerFunction"].call(t, sample(t, ev, nil)); got["errorMessage"] != "Unauthorized" {
			t.Fatalf("authorizer %s: %v", ev, got)
		}
	}
	who := proxyBody(t, fns["WhoamiFunction"].call(t, sample(t, "whoami", nil)), 200)
	if who["key_id"] != "key_01KMZ0000000000000000000AB" {
		t.Fatalf("whoami: %v", who)
	}
	created := proxyBody(t, fns["CreateKeyFunction"].call(t, sample(t, "create-key", nil)), 201)
	id := created["id"].(string)
	if !strings.HasPrefix(created["secret"].(string), "flwl_live_") {
		t.Fatalf("create: %v", created)
	}
	withID := func(ev map[string]any) {
		ev["pathParameters"] = map[string]any{"id": id}
		ev["path"] = strings.Replace(ev["path"].(string), "key_01KMZ0000000000000000000AB", id, 1)
	}
	if list := proxyBody(t, fns["ListKeysFunction"].call(t, sample(t, "list-keys", nil)), 200); len(list["items"].([]any)) != 1 {
		t.Fatalf("list: %v", list)
	}
	if got := proxyBody(t, fns["GetKeyFunction"].call(t, sample(t, "get-key", withID)), 200); got["id"] != id || got["secret"] != nil {
		t.Fatalf("get: %v", got)
	}
	if got := proxyBody(t, fns["UpdateKeyFunction"].call(t, sample(t, "update-key", withID)), 200); got["label"] != "n8n (staging)" {
		t.Fatalf("update: %v", got)
	}
	rolled := proxyBody(t, fns["RollKeyFunction"].call(t, sample(t, "roll-key", withID)), 201)
	if rolled["rolled_from"] != id || rolled["replaced"].(map[string]any)["expires_at"] == nil {
		t.Fatalf("roll: %v", rolled)
	}
	if got := proxyBody(t, fns["RevokeKeyFunction"].call(t, sample(t, "revoke-key", withID)), 200); got["status"] != "revoked" {
		t.Fatalf("revoke: %v", got)
	}
	if got := fns["AuditFunction"].call(t, sample(t, "audit-stream", nil)); fmt.Sprint(got["batchItemFailures"]) != "[]" {
		t.Fatalf("audit: %v", got)
	}
	secretScanning(t, fns["SecretScanningFunction"], keystore.New(db, tables["KeysTable"], tables["OrgsTable"]))
	keyActivity(t, fns, id)
	events := proxyBody(t, fns["ListAuditEventsFunction"].call(t, sample(t, "list-audit-events", nil)), 200)
	if len(events["items"].([]any)) != 4 {
		t.Fatalf("audit events: %v", events)
	}
}

// secretScanning sends the sample GitHub report, whose signature verifies
// against events/secret-scanning-public-keys.json: its first token is made
// a key of org_demo here (by its hash), so it is revoked; the second is
// another provider's token.
func secretScanning(t *testing.T, fn *rieFunction, store *keystore.Store) {
	t.Helper()
	var report struct{ Body string }
	if err := json.Unmarshal(sample(t, "secret-scanning-github", nil), &report); err != nil {
		t.Fatal(err)
	}
	var matches []struct{ Token string }
	if err := json.Unmarshal([]byte(report.Body), &matches); err != nil || len(matches) != 2 {
		t.Fatalf("sample report: %v %v", matches, err)
	}
	token := matches[0].Token
	at := stamp.Of(time.Now())
	c := keystore.Change{Op: keystore.OpCreate, At: at, Actor: keystore.Actor{UserID: "u_rie"}}
	if err := store.Create(context.Background(), keystore.Key{Hash: apikey.Hash(token), ID: keystore.NewID(), OrgID: "org_demo", Prefix: token[:16],
		Label: "leaked", Scopes: []string{"*"}, Status: keystore.StatusActive, CreatedAt: at, CreatedBy: "u_rie", LastChange: &c}); err != nil {
		t.Fatal(err)
	}
	resp := fn.call(t, sample(t, "secret-scanning-github", nil))
	var feedback []map[string]string
	if err := json.Unmarshal([]byte(fmt.Sprint(resp["body"])), &feedback); err != nil || resp["statusCode"] != float64(200) ||
		len(feedback) != 2 || feedback[0]["label"] != "true_positive" || feedback[1]["label"] != "false_positive" {
		t.Fatalf("secret scanning: %v", resp)
	}
	if k, err := store.LookupByHash(context.Background(), apikey.Hash(token)); err != nil || k.Status != keystore.StatusRevoked || k.RevokeReason != "exposed" {
		t.Fatalf("the reported key: %+v %v", k, err)
	}
}

// keyActivity gives the activity function its sample batch, then a batch
// of the access log naming the key created above, and reads that back
// through the three key activity endpoints.
func keyActivity(t *testing.T, fns map[string]*rieFunction, id string) {
	t.Helper()
	if got := fns["KeyActivityFunction"].call(t, sample(t, "key-activity", nil)); got != nil {
		t.Fatalf("key activity, sample batch: %v", got)
	}
	now := time.Now()
	line := fmt.Sprintf(`{"time":"%d","request_id":"9a8b7c6d-5e4f-4a3b-8c2d-%012d","method":"POST","path":"/v1/messages",`+
		`"status":"200","latency_ms":"30","source_ip":"203.0.113.7","user_agent":"rie","principal_type":"api_key","org_id":"org_demo",`+
		`"key_id":"%s","key_prefix":"flwl_live_xxxxxx","user_id":"-","route":"/v1/messages","error_type":"-"}`,
		now.UnixMilli(), now.UnixNano()%1e12, id)
	batch, err := locallogs.Event("/aws/apigateway/flowella-dev-access", "rie", "AccessLogActivitySubscription",
		[]events.CloudwatchLogsLogEvent{{ID: "1", Timestamp: now.UnixMilli(), Message: line}})
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(batch)
	if got := fns["KeyActivityFunction"].call(t, payload); got != nil {
		t.Fatalf("key activity: %v", got)
	}
	withKey := func(ev map[string]any) {
		ev["pathParameters"] = map[string]any{"id": id}
		ev["path"] = strings.Replace(ev["path"].(string), "key_01KMZ0000000000000000000AB", id, 1)
		if q, ok := ev["queryStringParameters"].(map[string]any); ok {
			q["since"] = now.Add(-time.Hour).UTC().Format(time.RFC3339)
			q["until"] = now.Add(time.Hour).UTC().Format(time.RFC3339)
			mv := map[string]any{}
			for k, v := range q {
				mv[k] = []any{v}
			}
			ev["multiValueQueryStringParameters"] = mv
		}
	}
	list := proxyBody(t, fns["ListKeyActivityFunction"].call(t, sample(t, "list-key-activity", withKey)), 200)
	if items := list["items"].([]any); len(items) != 1 || items[0].(map[string]any)["status"] != float64(200) {
		t.Fatalf("activity: %v", list)
	}
	usage := proxyBody(t, fns["GetKeyUsageFunction"].call(t, sample(t, "get-key-usage", withKey)), 200)
	if usage["totals"].(map[string]any)["requests"] != float64(1) {
		t.Fatalf("usage: %v", usage)
	}
	exposure := proxyBody(t, fns["GetKeyExposureFunction"].call(t, sample(t, "get-key-exposure", withKey)), 200)
	if ips := exposure["source_ips"].([]any); len(ips) != 1 || ips[0].(map[string]any)["ip"] != "203.0.113.7" {
		t.Fatalf("exposure: %v", exposure)
	}
}
