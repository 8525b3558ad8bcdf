package e2e

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowella/apikeys/local/syncbuf"
)

// stack is one `make run`, in its own process group so that it is stopped
// the way Ctrl-C stops it.
type stack struct {
	cmd    *exec.Cmd
	out    *syncbuf.Buffer // stdout and stderr
	stdout *syncbuf.Buffer
	done   chan struct{}
	base   string
	waited time.Duration
}

func startStack(t *testing.T, env []string, port int) *stack {
	t.Helper()
	// As a user types it (no -s): make's own echo must not reach stdout.
	cmd := exec.Command("make", "run")
	cmd.Dir = repoRoot(t)
	// Key activity on, whatever the shell exported after a bench.
	cmd.Env = append(append(topLevelEnv(), "KEY_ACTIVITY=on"), env...)
	out, stdout := &syncbuf.Buffer{}, &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = io.MultiWriter(out, stdout), out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &stack{cmd: cmd, out: out, stdout: stdout, done: make(chan struct{}), base: "http://127.0.0.1:" + itoa(port)}
	go func() { _ = cmd.Wait(); close(s.done) }()
	t.Cleanup(func() { s.stop(t) })
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			t.Fatalf("make run exited:\n%s", out.String())
		default:
		}
		if strings.Contains(out.String(), "local stack ready") {
			s.waited = time.Since(start)
			return s
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("make run not ready after 3 minutes:\n%s", out.String())
	return nil
}

// stop sends SIGINT to the process group, as Ctrl-C does, and waits.
func (s *stack) stop(t *testing.T) {
	select {
	case <-s.done:
		return
	default:
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGINT)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
		t.Errorf("make run did not stop within 30 s of SIGINT:\n%s", s.out.String())
	}
}

func TestLocalStackEndToEnd(t *testing.T) {
	port := freePort(t)
	dataDir := t.TempDir()
	env := []string{"PORT=" + itoa(port), "FLOWELLA_DATA_DIR=" + dataDir,
		"SESSION_HS256_SECRET=e2e-secret-0123456789abcdef0123456789"}
	s := startStack(t, env, port)
	t.Logf("make run: ready after %v", s.waited)
	token := makeOutput(t, env, "token", "ORG=org_demo", "USER=u_e2e", "ROLE=admin")
	if strings.Count(token, ".") != 2 || strings.ContainsAny(token, " \n") {
		t.Fatalf("make token printed %q", token)
	}

	created := call(t, "POST", s.base+"/v1/api-keys", token, map[string]any{"label": "e2e", "scopes": []string{"messages:send"}})
	if created.status != 201 {
		t.Fatalf("create: %d %s", created.status, created.raw)
	}
	id, secret := created.body["id"].(string), created.body["secret"].(string)
	if !strings.HasPrefix(secret, "flwl_test_") {
		t.Fatalf("the local stack issues test keys; got prefix %q", secret[:10])
	}
	who := call(t, "GET", s.base+"/v1/whoami", secret, nil)
	if who.status != 200 || who.body["key_id"] != id || who.body["org_id"] != "org_demo" {
		t.Fatalf("whoami: %d %s", who.status, who.raw)
	}
	list := call(t, "GET", s.base+"/v1/api-keys", token, nil)
	items := list.body["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["last_used_at"] == nil {
		t.Fatalf("list after use: %s", list.raw)
	}
	if r := call(t, "POST", s.base+"/v1/messages", secret, map[string]any{"to": "+15550100", "text": "hi"}); r.status != 200 {
		t.Fatalf("scoped route: %d %s", r.status, r.raw)
	}
	if r := call(t, "GET", s.base+"/v1/contacts", secret, nil); r.status != 403 || !strings.Contains(r.raw, `"code":"forbidden"`) {
		t.Fatalf("other scope: %d %s", r.status, r.raw)
	}
	if r := call(t, "POST", s.base+"/v1/api-keys/"+id+"/revoke", token, map[string]any{"reason": "e2e"}); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}
	if r := call(t, "GET", s.base+"/v1/whoami", secret, nil); r.status != 401 || !strings.Contains(r.raw, `"code":"unauthorized"`) {
		t.Fatalf("after revoke: %d %s", r.status, r.raw)
	}
	// The access log carries the key id and prefix of requests made with it.
	if out := s.out.String(); !strings.Contains(out, `"key_id":"`+id+`"`) || !strings.Contains(out, `"key_prefix":"`+secret[:16]+`"`) {
		t.Fatalf("access log lacks the key:\n%s", out)
	}
	if strings.Contains(s.out.String(), secret[16:]) {
		t.Fatal("the local stack's output contains a secret")
	}
	// stdout is the access log, one JSON object a line, and nothing else,
	// so it can be piped to jq or a log shipper.
	lines := 0
	for _, line := range strings.Split(strings.TrimSpace(s.stdout.String()), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("stdout line is not a JSON object: %q", line)
		}
		lines++
	}
	if lines < 5 {
		t.Fatalf("%d access log lines on stdout", lines)
	}

	s.stop(t)
	s2 := startStack(t, env, port)
	t.Logf("make run (warm, data on disk): ready after %v", s2.waited)
	list = call(t, "GET", s2.base+"/v1/api-keys", token, nil)
	items = list.body["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["status"] != "revoked" || items[0].(map[string]any)["revoked_at"] == nil {
		t.Fatalf("after restart: %s", list.raw)
	}
	if r := call(t, "GET", s2.base+"/v1/whoami", secret, nil); r.status != 401 {
		t.Fatalf("revoked key after restart: %d", r.status)
	}
	// A crash (SIGKILL to make and the stack, as a power cut would) leaves
	// DynamoDB Local running; the next make run stops it by the PID it
	// recorded and starts cleanly on the same data.
	_ = syscall.Kill(-s2.cmd.Process.Pid, syscall.SIGKILL)
	<-s2.done
	s3 := startStack(t, env, port)
	t.Logf("make run after a crash: ready after %v", s3.waited)
	if r := call(t, "GET", s3.base+"/v1/api-keys/"+id, token, nil); r.status != 200 || r.body["status"] != "revoked" {
		t.Fatalf("after crash: %d %s", r.status, r.raw)
	}
	s2 = s3

	// Stream delivery resumes from its checkpoint: both changes are audited.
	deadline := time.Now().Add(20 * time.Second)
	for {
		audit := call(t, "GET", s2.base+"/v1/audit-events?key_id="+id, token, nil)
		n := len(audit.body["items"].([]any))
		if audit.status == 200 && n == 2 {
			break
		}
		if n > 2 || time.Now().After(deadline) {
			t.Fatalf("audit after restart: %s", audit.raw)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// topLevelEnv is the environment without what a surrounding make (make
// test) passes down, so make run behaves as when a user types it: a
// sub-make announces its directories on stdout.
func topLevelEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name != "MAKELEVEL" && name != "MAKEFLAGS" && name != "MFLAGS" && name != "MAKEOVERRIDES" {
			out = append(out, kv)
		}
	}
	return out
}
