package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/flowella/apikeys/local/syncbuf"
	"github.com/flowella/apikeys/shared/apikey"
	"github.com/flowella/apikeys/shared/dynamo"
)

// whoamiFigures compare `make run`'s GET /v1/whoami, made with an API key,
// with a bare strongly consistent GetItem of that key's item on make run's
// own DynamoDB Local: the same number of requests from the same number of
// clients, each client one kept-alive connection, in alternating rounds.
type whoamiFigures struct {
	requests, rounds int
	// activityOff: make run with KEY_ACTIVITY=off, recording nothing; not
	// what users run, so the target is not judged on it.
	activityOff bool
	rows        []whoamiRow
	// CPU time a second that make run and its DynamoDB Local use idle.
	idleStack, idleDynamoDB time.Duration
}

type whoamiRow struct {
	clients         int
	whoami, getItem throughput
	load            string
}

type throughput struct {
	n         int
	elapsed   time.Duration
	latencies []time.Duration
	// CPU time of make run's Go process, of its DynamoDB Local and of this
	// process (the clients), over the phase and the settling after it.
	cpuStack, cpuDynamoDB, cpuClient time.Duration
}

func (t *throughput) add(o throughput) {
	t.n += o.n
	t.elapsed += o.elapsed
	t.latencies = append(t.latencies, o.latencies...)
	t.cpuStack += o.cpuStack
	t.cpuDynamoDB += o.cpuDynamoDB
	t.cpuClient += o.cpuClient
}

// perRequest is a CPU time per request.
func (t throughput) perRequest(d time.Duration) time.Duration { return d / time.Duration(max(1, t.n)) }

func (t throughput) perSecond() float64 { return float64(t.n) / t.elapsed.Seconds() }

func whoamiBench(ctx context.Context, root string, requests, rounds int, activityOff bool) (*whoamiFigures, error) {
	run, err := startMakeRun(ctx, root, activityOff)
	if err != nil {
		return nil, err
	}
	defer run.stop()
	token, err := run.token()
	if err != nil {
		return nil, err
	}
	secret, err := run.createKey(token)
	if err != nil {
		return nil, err
	}
	db, err := dynamo.NewWithEndpoint(ctx, run.dynamoDB)
	if err != nil {
		return nil, err
	}
	getIn := &dynamodb.GetItemInput{TableName: aws.String("KeysTable"), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"key_hash": &types.AttributeValueMemberS{Value: apikey.Hash(secret)}}}
	getItem := func(ctx context.Context, _ *http.Client) error {
		out, err := db.GetItem(ctx, getIn)
		if err == nil && out.Item == nil {
			err = errors.New("GetItem found no item")
		}
		return err
	}
	whoami := func(ctx context.Context, c *http.Client) error {
		req, _ := http.NewRequestWithContext(ctx, "GET", run.base+"/v1/whoami", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("whoami: %d %s", resp.StatusCode, body)
		}
		return nil
	}
	// make run's DynamoDB Local runs in a process group of its own.
	ddbPIDs := pidsWith("DynamoDBLocal", run.dataDir)
	if len(ddbPIDs) == 0 {
		return nil, fmt.Errorf("make run's DynamoDB Local (data in %s) not found in /proc", run.dataDir)
	}
	f := &whoamiFigures{requests: requests, rounds: rounds, activityOff: activityOff}
	// What make run and its DynamoDB Local use doing nothing (stream
	// polls, log deliveries), a second, to take from each phase's CPU time.
	time.Sleep(time.Second)
	stack0, ddb0, idleStart := groupCPU(run.cmd.Process.Pid), pidsCPU(ddbPIDs), time.Now()
	time.Sleep(5 * time.Second)
	idle := time.Since(idleStart)
	f.idleStack = time.Duration(float64(groupCPU(run.cmd.Process.Pid)["flowella-local"]-stack0["flowella-local"]) / idle.Seconds())
	f.idleDynamoDB = time.Duration(float64(pidsCPU(ddbPIDs)-ddb0) / idle.Seconds())
	for _, clients := range []int{1, 8} {
		// Warm up: connections, both pools of execution environments, and
		// DynamoDB Local's JIT. Its transactions (key activity) reach their
		// steady cost only after some thousands of records: on a fresh
		// on-disk DynamoDB Local, batches of 40 cost 4.5 ms CPU a record in
		// the first thousand, 1.7 in the second, under 1 after five
		// thousand (load average 11); 200 requests measured mostly that.
		warm := 200
		if clients == 1 {
			warm = whoamiWarmUp
		}
		if _, err := drive(ctx, clients, warm, whoami); err != nil {
			return nil, err
		}
		time.Sleep(time.Second) // the warm-up's key activity, written
		if _, err := drive(ctx, clients, warm, getItem); err != nil {
			return nil, err
		}
		row := whoamiRow{clients: clients, load: loadAverage()}
		for r := range rounds {
			kinds := []func(context.Context, *http.Client) error{whoami, getItem}
			into := []*throughput{&row.whoami, &row.getItem}
			if r%2 == 1 {
				kinds[0], kinds[1], into[0], into[1] = kinds[1], kinds[0], into[1], into[0]
			}
			for i, kind := range kinds {
				stack0, ddb0, self0, window := groupCPU(run.cmd.Process.Pid), pidsCPU(ddbPIDs), selfCPU(), time.Now()
				t, err := drive(ctx, clients, requests, kind)
				if err != nil {
					return nil, err
				}
				// Key activity is delivered every 200 ms: let the phase's
				// records be written before the next phase, and count them.
				time.Sleep(time.Second)
				stack1, ddb1, self1 := groupCPU(run.cmd.Process.Pid), pidsCPU(ddbPIDs), selfCPU()
				busy := time.Since(window).Seconds()
				t.cpuStack = stack1["flowella-local"] - stack0["flowella-local"] - time.Duration(busy*float64(f.idleStack))
				t.cpuDynamoDB = ddb1 - ddb0 - time.Duration(busy*float64(f.idleDynamoDB))
				t.cpuClient = self1 - self0
				into[i].add(t)
			}
		}
		f.rows = append(f.rows, row)
	}
	return f, nil
}

// whoamiWarmUp is how many requests of each kind go before the first
// measured round.
const whoamiWarmUp = 5000

// drive makes n calls from clients goroutines, each with its own
// kept-alive connection.
func drive(ctx context.Context, clients, n int, call func(context.Context, *http.Client) error) (throughput, error) {
	var next atomic.Int64
	lat := make([][]time.Duration, clients)
	errs := make([]error, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for c := range clients {
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}}
		wg.Go(func() {
			defer client.CloseIdleConnections()
			for next.Add(1) <= int64(n) {
				t0 := time.Now()
				if err := call(ctx, client); err != nil {
					errs[c] = err
					return
				}
				lat[c] = append(lat[c], time.Since(t0))
			}
		})
	}
	wg.Wait()
	t := throughput{n: n, elapsed: time.Since(start)}
	for c := range clients {
		t.latencies = append(t.latencies, lat[c]...)
	}
	return t, errors.Join(errs...)
}

// makeRun is one `make run` on a free port with its data in a directory of
// its own, in its own process group so that it is stopped as Ctrl-C stops it.
// It runs what make run runs (go build ./cmd/local, then exec it), built
// into a directory of its own: .local/bin may be shared by several work
// trees, and a bench must not replace the binary another one runs.
type makeRun struct {
	cmd      *exec.Cmd
	env      []string
	root     string
	bin      string
	base     string
	dynamoDB string
	dataDir  string
	done     chan struct{}
}

var dynamoLine = regexp.MustCompile(`DynamoDB Local\s+(http://\S+)`)

func startMakeRun(ctx context.Context, root string, activityOff bool) (*makeRun, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dataDir, err := os.MkdirTemp("", "flowella-bench-")
	if err != nil {
		return nil, err
	}
	env := []string{"PORT=" + strconv.Itoa(port), "FLOWELLA_DATA_DIR=" + dataDir,
		"SESSION_HS256_SECRET=bench-secret-0123456789abcdef0123456789", "KEY_ACTIVITY=on"}
	if activityOff {
		env[len(env)-1] = "KEY_ACTIVITY=off"
	}
	bin := dataDir + "-bin"
	for _, pkg := range []string{"flowella-local=./cmd/local", "token=./cmd/token"} {
		name, path, _ := strings.Cut(pkg, "=")
		build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(bin, name), path)
		build.Dir, build.Stderr = root, os.Stderr
		if err := build.Run(); err != nil {
			_ = os.RemoveAll(dataDir)
			_ = os.RemoveAll(bin)
			return nil, fmt.Errorf("build %s: %w", path, err)
		}
	}
	cmd := exec.Command(filepath.Join(bin, "flowella-local"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	var stderr syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr // stdout is the access log
	if path := os.Getenv("BENCH_STACK_LOG"); path != "" {
		// make run's own log (key activity's batches, among others), to
		// see what a run did.
		// The file stays open with the process: os/exec copies to it
		// until the process ends, and closes nothing it was given.
		f, err := os.Create(path)
		if err != nil {
			return nil, err
		}
		cmd.Stderr = io.MultiWriter(&stderr, f)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	m := &makeRun{cmd: cmd, env: env, root: root, bin: bin, base: "http://127.0.0.1:" + strconv.Itoa(port), dataDir: dataDir, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(m.done) }()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-m.done:
			return nil, fmt.Errorf("make run exited:\n%s", stderr.String())
		case <-ctx.Done():
			m.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if out := stderr.String(); strings.Contains(out, "local stack ready") {
			if sm := dynamoLine.FindStringSubmatch(out); sm != nil {
				m.dynamoDB = sm[1]
				return m, nil
			}
		}
	}
	m.stop()
	return nil, fmt.Errorf("make run not ready after 3 minutes:\n%s", stderr.String())
}

// stop sends SIGINT to make run's process group, as Ctrl-C does.
func (m *makeRun) stop() {
	select {
	case <-m.done:
	default:
		_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGINT)
		select {
		case <-m.done:
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
			<-m.done
		}
	}
	_ = os.RemoveAll(m.dataDir)
	_ = os.RemoveAll(m.bin)
}

func (m *makeRun) token() (string, error) {
	cmd := exec.Command(filepath.Join(m.bin, "token"), "-org", "org_demo", "-user", "u_bench", "-role", "admin")
	cmd.Dir = m.root
	cmd.Env = append(os.Environ(), m.env...)
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

func (m *makeRun) createKey(token string) (string, error) {
	req, _ := http.NewRequest("POST", m.base+"/v1/api-keys", strings.NewReader(`{"label":"bench"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var created struct{ Secret string }
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &created); err != nil || resp.StatusCode != http.StatusCreated || created.Secret == "" {
		return "", fmt.Errorf("create key: %d %s", resp.StatusCode, raw)
	}
	return created.Secret, nil
}

func (f *whoamiFigures) markdown() string {
	var b strings.Builder
	if f.activityOff {
		// Not what users run (every request is recorded, as in AWS): no
		// verdict, only what is left of the target once recording is free.
		fmt.Fprintf(&b, "### For comparison: the same with key activity off\n\n")
		fmt.Fprintf(&b, "`make run` with `KEY_ACTIVITY=off`, which records no key activity (unlike AWS, and unlike\n"+
			"what users run): what recording costs this machine, and what the rest of the path leaves of the\n"+
			"target. Measured the same way, right after the figures above, against its own GetItem.\n\n")
	} else {
		fmt.Fprintf(&b, "### `make run`: GET /v1/whoami against one GetItem\n\n")
		fmt.Fprintf(&b, "`make run` started as a user starts it (its DynamoDB Local keeps data on disk, its access log goes to a\n"+
			"pipe, key activity is recorded); GET /v1/whoami made with an API key, against a bare strongly consistent\n"+
			"GetItem of that key's item on make run's own DynamoDB Local, after %d of each to warm up (DynamoDB Local's\n"+
			"JIT: its transactions for key activity cost several times more at first). %d requests of each per round,\n"+
			"%d rounds alternating which goes first, each client one kept-alive connection; throughput is requests over the\n"+
			"rounds' summed time.\n\n", whoamiWarmUp, f.requests, f.rounds)
	}
	fmt.Fprintf(&b, "| clients | whoami | GetItem | throughput ratio | target | | p50 whoami / GetItem | p99 whoami / GetItem | load average |\n")
	fmt.Fprintf(&b, "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range f.rows {
		q := r.whoami.perSecond() / r.getItem.perSecond()
		target, v := "≥ 0.60×", verdict(q >= 0.6)
		if f.activityOff {
			target, v = "(not judged)", ""
		}
		fmt.Fprintf(&b, "| %d | %.0f/s | %.0f/s | **%.2f×** | %s | %s | %s / %s | %s / %s | %s |\n", r.clients,
			r.whoami.perSecond(), r.getItem.perSecond(), q, target, v,
			ms(median(r.whoami.latencies)), ms(median(r.getItem.latencies)),
			ms(percentile(r.whoami.latencies, 99)), ms(percentile(r.getItem.latencies, 99)), r.load)
	}
	fmt.Fprintf(&b, "\nCPU time per request (user and system, from /proc, over each phase and the second after it,\n"+
		"while key activity is written, less what each process uses idle: make run %s a second, its DynamoDB\n"+
		"Local %s a second), whoami / GetItem; the bench's own goroutines are the clients:\n\n", ms(f.idleStack), ms(f.idleDynamoDB))
	fmt.Fprintf(&b, "| clients | make run's Go process | its DynamoDB Local | clients (bench) |\n| --- | --- | --- | --- |\n")
	for _, r := range f.rows {
		w, g := r.whoami, r.getItem
		fmt.Fprintf(&b, "| %d | %s / %s | %s / %s | %s / %s |\n", r.clients,
			ms(w.perRequest(w.cpuStack)), ms(g.perRequest(g.cpuStack)),
			ms(w.perRequest(w.cpuDynamoDB)), ms(g.perRequest(g.cpuDynamoDB)),
			ms(w.perRequest(w.cpuClient)), ms(g.perRequest(g.cpuClient)))
	}
	fmt.Fprintf(&b, "\n```sh\ngo run ./cmd/bench -only whoami\n```\n")
	return b.String()
}
