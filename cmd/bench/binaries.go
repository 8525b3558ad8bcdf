package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/flowella/apikeys/local/syncbuf"
	"github.com/flowella/apikeys/shared/dynamo"
	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/samtemplate"
)

// helloID names the hello-world function among the template's.
const helloID = "hello world (baseline)"

// binaryFigures are each bootstrap's size, built as sam build builds it
// (make build-<LogicalId>: linux/arm64, -tags lambda.norpc, -trimpath,
// -s -w), and its cold start under aws-lambda-rie, built the same way for
// this machine's architecture: from the emulator's start to the first
// invocation's answer.
type binaryFigures struct {
	functions []string // the template's, then helloID
	size      map[string]int64
	cold      map[string][]time.Duration
	starts    int
	load      string
}

// sampleEvent is each function's first invocation: its sample event.
var sampleEvent = map[string]string{
	"AuthorizerFunction":      "authorizer-request",
	"WhoamiFunction":          "whoami",
	"CreateKeyFunction":       "create-key",
	"ListKeysFunction":        "list-keys",
	"GetKeyFunction":          "get-key",
	"UpdateKeyFunction":       "update-key",
	"RevokeKeyFunction":       "revoke-key",
	"RollKeyFunction":         "roll-key",
	"AuditFunction":           "audit-stream",
	"ListAuditEventsFunction": "list-audit-events",
	"KeyActivityFunction":     "key-activity",
	"ListKeyActivityFunction": "list-key-activity",
	"GetKeyUsageFunction":     "get-key-usage",
	"GetKeyExposureFunction":  "get-key-exposure",
	"SecretScanningFunction":  "secret-scanning-github",
}

func binariesBench(ctx context.Context, root string, starts int) (*binaryFigures, error) {
	rie := filepath.Join(root, ".local", "bin", "aws-lambda-rie")
	if _, err := os.Stat(rie); err != nil {
		return nil, fmt.Errorf("%s is missing: make bench installs it", rie)
	}
	endpoint := os.Getenv("DYNAMODB_ENDPOINT")
	if endpoint == "" {
		return nil, errors.New("DYNAMODB_ENDPOINT is not set: run under scripts/dynamodb-local.sh run --")
	}
	tpl, err := samtemplate.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		return nil, err
	}
	db, err := dynamo.NewWithEndpoint(ctx, endpoint)
	if err != nil {
		return nil, err
	}
	tables, cleanup, err := createTables(ctx, db, root)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	if err := keystore.New(db, tables["KeysTable"], tables["OrgsTable"]).SetOrg(ctx, "org_demo", "paid", []string{"audit_log"}); err != nil {
		return nil, err
	}
	githubKeys := httptest.NewServer(http.FileServer(http.Dir(filepath.Join(root, "events"))))
	defer githubKeys.Close()
	dir, err := os.MkdirTemp("", "flowella-bench-bin-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	f := &binaryFigures{functions: append(tpl.Functions(), helloID), size: map[string]int64{},
		cold: map[string][]time.Duration{}, starts: starts}
	type built struct {
		host string // bootstrap for this machine
		env  map[string]string
		ev   []byte
	}
	bins := map[string]built{}
	for _, fn := range f.functions {
		target, env, ev := "build-"+fn, map[string]string{}, []byte("{}")
		if fn == helloID {
			target = "bench-hello"
		} else {
			name, ok := sampleEvent[fn]
			if !ok {
				return nil, fmt.Errorf("template function %s has no sample event in cmd/bench", fn)
			}
			if ev, err = os.ReadFile(filepath.Join(root, "events", name+".json")); err != nil {
				return nil, err
			}
			if env, err = tpl.Environment(fn, map[string]string{
				"SessionHS256Secret":    "bench-secret-0123456789abcdef0123456789",
				"DynamoDBEndpoint":      endpoint,
				"SecretScanningKeysUrl": githubKeys.URL + "/secret-scanning-public-keys.json",
			}, func(id string) string { return tables[id] }); err != nil {
				return nil, err
			}
		}
		lambdaDir, hostDir := filepath.Join(dir, "arm64", target), filepath.Join(dir, "host", target)
		if err := makeTarget(root, target, "ARTIFACTS_DIR="+lambdaDir); err != nil {
			return nil, err
		}
		st, err := os.Stat(filepath.Join(lambdaDir, "bootstrap"))
		if err != nil {
			return nil, err
		}
		f.size[fn] = st.Size()
		if err := makeTarget(root, target, "ARTIFACTS_DIR="+hostDir, "GOARCH_LAMBDA="+runtime.GOARCH); err != nil {
			return nil, err
		}
		bins[fn] = built{host: filepath.Join(hostDir, "bootstrap"), env: env, ev: ev}
	}
	f.load = loadAverage()
	// Round after round, every function once, so the load is shared.
	for range starts {
		for _, fn := range f.functions {
			b := bins[fn]
			d, err := coldStart(ctx, rie, b.host, b.env, b.ev)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", fn, err)
			}
			f.cold[fn] = append(f.cold[fn], d)
		}
	}
	return f, nil
}

func makeTarget(root, target string, vars ...string) error {
	cmd := exec.Command("make", append([]string{"-s", target}, vars...)...)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("make %s: %w\n%s", target, err, out.String())
	}
	return nil
}

// coldStart starts bootstrap under the emulator and invokes it with event
// as soon as the emulator takes connections: the time from the start to
// the answer.
func coldStart(ctx context.Context, rie, bootstrap string, env map[string]string, event []byte) (time.Duration, error) {
	apiPort, err := freePort()
	if err != nil {
		return 0, err
	}
	runtimePort, err := freePort()
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", "127.0.0.1:"+strconv.Itoa(apiPort),
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(runtimePort), bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var log syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	url := "http://127.0.0.1:" + strconv.Itoa(apiPort) + "/2015-03-31/functions/function/invocations"
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	for time.Since(start) < 30*time.Second {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		resp, err := client.Post(url, "application/json", bytes.NewReader(event))
		if err != nil {
			time.Sleep(time.Millisecond)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		took := time.Since(start)
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("invoke: %d %s\n%s", resp.StatusCode, body, log.String())
		}
		return took, nil
	}
	return 0, fmt.Errorf("no answer within 30 s:\n%s", log.String())
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (f *binaryFigures) markdown() string {
	var b strings.Builder
	hello, helloCold := f.size[helloID], median(f.cold[helloID])
	fmt.Fprintf(&b, "### Bootstraps: size and cold start against a hello-world function\n\n")
	fmt.Fprintf(&b, "Each function's `bootstrap` built as `make build-<LogicalId>` builds it for Lambda (linux/arm64,\n"+
		"`-tags lambda.norpc -trimpath -ldflags='-s -w'`), against `local/bench/hello` built the same way\n"+
		"(`make bench-hello`). Cold start: the same builds for this machine (%s), each started under\n"+
		"aws-lambda-rie with its template environment on DynamoDB Local and invoked with its sample event\n"+
		"(`events/`) as soon as the emulator takes connections; the time from the emulator's start to the\n"+
		"first answer, median of %d starts, the functions taking turns. Load average: %s.\n\n", runtime.GOARCH, f.starts, f.load)
	fmt.Fprintf(&b, "| function | bootstrap | size ratio | cold start | cold start ratio |\n| --- | --- | --- | --- | --- |\n")
	for _, fn := range f.functions {
		c := median(f.cold[fn])
		fmt.Fprintf(&b, "| %s | %.1f MiB | %.2f× | %s | %.2f× |\n", fn, float64(f.size[fn])/(1<<20),
			float64(f.size[fn])/float64(hello), ms(c), float64(c)/float64(helloCold))
	}
	fmt.Fprintf(&b, "\n```sh\nscripts/dynamodb-local.sh run -- go run ./cmd/bench -only binaries\n```\n")
	return b.String()
}
