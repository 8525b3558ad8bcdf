package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// readmeCommand is one command of a README code block: continuation lines
// joined, its trailing comment (the documented outcome) apart.
type readmeCommand struct {
	line    int // 1-based line in README.md where it starts
	text    string
	comment string
}

// quickStartCommands returns the commands of every ```sh block under the
// README's "## Quick start" heading (up to the next "## " heading).
func quickStartCommands(t *testing.T, readme string) []readmeCommand {
	t.Helper()
	lines := strings.Split(readme, "\n")
	var cmds []readmeCommand
	in, block := false, false
	var cur *readmeCommand
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, "## "):
			in = strings.TrimSpace(l) == "## Quick start"
			continue
		case !in:
			continue
		case strings.HasPrefix(l, "```"):
			block = !block && strings.TrimSpace(l) == "```sh"
			continue
		case !block:
			continue
		}
		if cur == nil {
			s := strings.TrimSpace(l)
			if s == "" || strings.HasPrefix(s, "#") {
				continue
			}
			cur = &readmeCommand{line: i + 1}
		}
		code, comment := splitComment(l)
		code = strings.TrimSpace(code)
		if comment != "" {
			cur.comment = comment
		}
		if strings.HasSuffix(code, `\`) {
			cur.text += strings.TrimSuffix(code, `\`) + " "
			continue
		}
		cur.text += code
		cmds = append(cmds, *cur)
		cur = nil
	}
	if len(cmds) == 0 {
		t.Fatal("README.md: no ```sh block under ## Quick start")
	}
	return cmds
}

// splitComment splits a shell line at its first " #" outside quotes.
func splitComment(l string) (code, comment string) {
	var quote rune
	for i, r := range l {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"':
			quote = r
		case r == '#' && i > 0 && (l[i-1] == ' ' || l[i-1] == '\t'):
			return l[:i], strings.TrimSpace(l[i+1:])
		}
	}
	return l, ""
}

// notRunHere are the quick start's commands this test cannot run, by their
// first two words, with the reason.
var notRunHere = map[string]string{
	"make test": "runs every test, this one included (minutes, and recursive)",
}

var (
	statusComment = regexp.MustCompile(`^([1-5][0-9][0-9])\b`)
	fieldComment  = regexp.MustCompile("^the \"([a-z_]+)\" field above$")
	setComment    = regexp.MustCompile(`^([a-z_]+) is set$`)
)

// TestReadmeQuickStart runs the README's quick start as written, against a
// `make run` started here: each command, with TOKEN and KEY as the README
// obtains them and the test's port for 3000, is checked against the outcome
// its trailing comment documents (an HTTP status, a field that is set);
// without one, it must succeed (2xx for curl). A command that stops working,
// or whose documented status changes, fails the test.
func TestReadmeQuickStart(t *testing.T) {
	root := repoRoot(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	cmds := quickStartCommands(t, string(readme))

	port := freePort(t)
	env := []string{"PORT=" + itoa(port), "FLOWELLA_DATA_DIR=" + t.TempDir(),
		"SESSION_HS256_SECRET=e2e-readme-secret-0123456789abcdef0123"}
	vars := map[string]string{}
	var last map[string]any // the previous curl's JSON body
	ran := 0
	for _, c := range cmds {
		words := strings.Fields(c.text)
		name := strings.Join(words[:min(2, len(words))], " ")
		if why, ok := notRunHere[name]; ok {
			t.Logf("README.md:%d: not run: %s: %s", c.line, c.text, why)
			continue
		}
		switch {
		case c.text == "make run":
			// Started as a user would (the test's port, its own data).
			if !strings.Contains(c.comment, "http://127.0.0.1:3000") {
				t.Errorf("README.md:%d: make run's comment no longer names http://127.0.0.1:3000: %q", c.line, c.comment)
			}
			s := startStack(t, env, port)
			if !strings.Contains(s.out.String(), "make -s token") {
				t.Errorf("README.md says make run prints how to get a session token; its output:\n%s", s.out.String())
			}
		case regexp.MustCompile(`^[A-Z_]+=`).MatchString(c.text):
			name, value, _ := strings.Cut(c.text, "=")
			if m := fieldComment.FindStringSubmatch(c.comment); m != nil {
				// KEY=flwl_test_…: the value the README says to copy.
				v, _ := last[m[1]].(string)
				prefix := strings.TrimSuffix(strings.TrimSpace(value), "…")
				if v == "" || !strings.HasPrefix(v, prefix) {
					t.Fatalf("README.md:%d: %s: the previous response has no %q starting %q: %v", c.line, c.text, m[1], prefix, last)
				}
				vars[name] = v
				break
			}
			out := runShell(t, root, env, vars, "printf %s \""+value+"\"", c)
			if name == "TOKEN" && (strings.Count(out, ".") != 2 || strings.ContainsAny(out, " \n")) {
				t.Fatalf("README.md:%d: %s printed %q, not a token", c.line, c.text, out)
			}
			vars[name] = out
		case words[0] == "curl":
			text := strings.ReplaceAll(c.text, "127.0.0.1:3000", "127.0.0.1:"+itoa(port))
			out := runShell(t, root, env, vars, text+` -w '\n%{http_code}'`, c)
			i := strings.LastIndex(out, "\n")
			body, code := out[:max(i, 0)], out[i+1:]
			status, _ := strconv.Atoi(code)
			last = nil
			_ = json.Unmarshal([]byte(body), &last)
			if m := statusComment.FindStringSubmatch(c.comment); m != nil {
				if code != m[1] {
					t.Errorf("README.md:%d: %s\n  documented %s, got %s: %s", c.line, c.text, m[1], code, body)
				}
			} else if status < 200 || status > 299 {
				t.Errorf("README.md:%d: %s\n  got %s: %s", c.line, c.text, code, body)
			}
			if m := setComment.FindStringSubmatch(c.comment); m != nil {
				items, _ := last["items"].([]any)
				if len(items) == 0 {
					t.Errorf("README.md:%d: documented %q, but no items: %s", c.line, c.comment, body)
				}
				for _, it := range items {
					if it.(map[string]any)[m[1]] == nil {
						t.Errorf("README.md:%d: documented %q, not set: %s", c.line, c.comment, body)
					}
				}
			}
		default:
			t.Errorf("README.md:%d: the quick start has a command this test does not know how to run or skip: %s", c.line, c.text)
			continue
		}
		ran++
	}
	t.Logf("ran %d of the quick start's %d commands", ran, len(cmds))
}

// runShell runs one README command with bash in the repository, with the
// README's variables set, and returns its stdout; a failure stops the test.
func runShell(t *testing.T, root string, env []string, vars map[string]string, script string, c readmeCommand) string {
	t.Helper()
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("README.md:%d: %s: %v\n%s%s", c.line, c.text, err, stdout.String(), stderr.String())
		}
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("README.md:%d: %s: no answer within 2 minutes", c.line, c.text)
	}
	return strings.TrimSpace(stdout.String())
}
