package localsite_test

// Browser tests of Settings → API keys: headless Chromium (Debian's
// chromium; `make test` installs it) driven with chromedp against the local
// stack built from template.yaml over DynamoDB Local, served as `make run`
// serves it (localsite in front of the gateway).

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/flowella/apikeys/local/dynamotest"
	"github.com/flowella/apikeys/local/localsession"
	"github.com/flowella/apikeys/local/localsite"
	"github.com/flowella/apikeys/local/localstack"
	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/samtemplate"
	"github.com/flowella/apikeys/shared/session"
	"github.com/flowella/apikeys/shared/streamsclient"
)

var updateDocs = flag.Bool("update-docs", false, "also write the README's screenshot, docs/settings-api-keys.png")

// stackSite is the local stack with the settings page in front, on loopback.
type stackSite struct {
	t         *testing.T
	url       string
	db        *dynamodb.Client
	keysTable string
}

// newStackSite builds the stack as localstack's tests do (template.yaml,
// fresh DynamoDB Local tables, the audit stream polled) with organisations
// org_a (paid, audit log) and org_c (hobby, no audit log), and serves it
// through localsite.New as cmd/local does.
func newStackSite(t *testing.T) *stackSite {
	t.Helper()
	db, tables := dynamotest.Setup(t)
	tpl, err := samtemplate.Load(dynamotest.TemplatePath(t))
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	// The functions log through the default logger.
	prev := slog.Default()
	slog.SetDefault(quiet)
	t.Cleanup(func() { slog.SetDefault(prev) })
	stack, err := localstack.Build(context.Background(), localstack.Config{
		Template:   tpl,
		DB:         db,
		TableName:  func(id string) string { return tables[id] },
		Parameters: map[string]string{"SessionHS256Secret": testSecret, "KeyEnvironment": "test"},
		AccessLog:  io.Discard,
		Log:        quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	store := keystore.New(db, tables["KeysTable"], tables["OrgsTable"])
	if err := store.SetOrg(context.Background(), "org_a", "paid", []string{"audit_log"}); err != nil {
		t.Fatal(err)
	}
	if err := store.SetOrg(context.Background(), "org_c", "hobby", nil); err != nil {
		t.Fatal(err)
	}
	streams, err := streamsclient.New(context.Background(), os.Getenv("DYNAMODB_ENDPOINT"))
	if err != nil {
		t.Fatal(err)
	}
	pollers, err := stack.Pollers(localstack.StreamOptions{Streams: streams, DeadLetter: io.Discard, Interval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, p := range pollers {
		wg.Go(func() {
			if err := p.Run(ctx); err != nil {
				t.Errorf("poller: %v", err)
			}
		})
	}
	// Key activity, from the access log's and the authorizer's lines.
	stack.Logs.Interval = 20 * time.Millisecond
	wg.Go(func() { _ = stack.Logs.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	site, err := localsite.New(stack, localsite.Config{SessionSecret: testSecret, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(site) // 127.0.0.1
	t.Cleanup(srv.Close)
	return &stackSite{t: t, url: srv.URL, db: db, keysTable: tables["KeysTable"]}
}

func (s *stackSite) token(org, user, role string) string {
	s.t.Helper()
	tok, err := localsession.IssueHS256(testSecret, session.Principal{UserID: user, OrgID: org, Role: role}, time.Hour, "", "")
	if err != nil {
		s.t.Fatal(err)
	}
	return tok
}

// call makes an API request with a bearer credential and decodes the answer.
func (s *stackSite) call(method, path, bearer string, body any) (int, map[string]any) {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// age makes a key look created (and unused) that long ago, for its
// hygiene flags: a rewrite of its item, as no API can backdate a key.
func (s *stackSite) age(id string, by time.Duration) {
	s.t.Helper()
	ctx := context.Background()
	filter, err := expression.NewBuilder().WithFilter(expression.Name("key_id").Equal(expression.Value(id))).Build()
	if err != nil {
		s.t.Fatal(err)
	}
	out, err := s.db.Scan(ctx, &dynamodb.ScanInput{TableName: &s.keysTable, FilterExpression: filter.Filter(),
		ExpressionAttributeNames: filter.Names(), ExpressionAttributeValues: filter.Values(), ConsistentRead: aws.Bool(true)})
	if err != nil || len(out.Items) != 1 {
		s.t.Fatalf("find key %s: %v (%d items)", id, err, len(out.Items))
	}
	item := out.Items[0]
	item["created_at"] = &types.AttributeValueMemberS{Value: keystore.FormatTime(time.Now().Add(-by))}
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.keysTable, Item: item}); err != nil {
		s.t.Fatal(err)
	}
}

// chromiumPath finds the browser: $CHROMIUM, else Debian's chromium.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is not installed: run scripts/chromium.sh (make test does), `apt-get install chromium`, or set CHROMIUM=/path/to/chrome")
	return ""
}

// browser is one headless Chromium tab; uncaught page exceptions fail the test.
type browser struct {
	t    *testing.T
	ctx  context.Context
	site *stackSite
	mu   sync.Mutex
	errs []string
}

func newBrowser(t *testing.T, site *stackSite, width, height int64) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.WindowSize(int(width), int(height)),
		chromedp.Flag("lang", "en-GB"),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium's sandbox refuses to run as root
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		_ = chromedp.Cancel(ctx) // closes the browser it started
		cancelTab()
		cancelAlloc()
	})
	b := &browser{t: t, ctx: ctx, site: site}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, height)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if err := chromedp.Listen(ctx, func(ev any) {
		if ev, ok := ev.(*runtime.EventExceptionThrown); ok {
			b.mu.Lock()
			defer b.mu.Unlock()
			msg := ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
			b.errs = append(b.errs, msg)
		}
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, e := range b.errs {
			t.Errorf("uncaught exception in the page: %s", e)
		}
	})
	return b
}

// do runs actions with a time limit, failing the test on error.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// until waits for a JavaScript expression to be true. A poll does not
// survive a navigation, so one cut short by a page load starts again.
func (b *browser) until(what, expr string) {
	b.t.Helper()
	deadline := time.Now().Add(30 * time.Second) // make test runs many packages at once
	for {
		ctx, cancel := context.WithDeadline(b.ctx, deadline)
		_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond),
			chromedp.WithPollingTimeout(time.Until(deadline))))
		cancel()
		if err == nil {
			return
		}
		if !navigating(err) || time.Now().After(deadline) {
			b.t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// navigating reports an evaluation cut short by a page load.
func navigating(err error) bool {
	for _, s := range []string{"navigated or closed", "Cannot find context with specified id", "Execution context was destroyed"} {
		if strings.Contains(err.Error(), s) {
			return true
		}
	}
	return false
}

// signIn uses the local sign-in page, as a newcomer would after make run.
func (b *browser) signIn(org, user, role string) {
	b.t.Helper()
	b.do("sign in",
		chromedp.Navigate(b.site.url+localsite.SignInPath),
		chromedp.WaitVisible(chromedp.ID("sign-in-form")),
		chromedp.SetValue(chromedp.ID("org"), org),
		chromedp.SetValue(chromedp.ID("user"), user),
		chromedp.Click(chromedp.ID("role-"+role)),
		chromedp.Click(chromedp.CSS(`#sign-in-form button[type="submit"]`)),
	)
	b.until("the settings page", `location.pathname === "/settings/api-keys" && document.readyState === "complete"`)
}

// screenshot writes the whole page to .local/screenshots/<name>.png.
func (b *browser) screenshot(name string) string {
	b.t.Helper()
	return b.capture(name, chromedp.FullScreenshot(100))
}

// screenshotViewport writes what the screen shows, for long pages.
func (b *browser) screenshotViewport(name string) string {
	b.t.Helper()
	return b.capture(name, chromedp.CaptureScreenshot())
}

func (b *browser) capture(name string, shot chromedp.Action[[]byte]) string {
	b.t.Helper()
	// Let the page settle.
	time.Sleep(150 * time.Millisecond)
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, shot)
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := filepath.Join(filepath.Dir(dynamotest.TemplatePath(b.t)), ".local", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot %s", path)
	return path
}

func (b *browser) focusInDialog(id string) bool {
	b.t.Helper()
	return eval[bool](b, fmt.Sprintf(`document.activeElement !== null && document.activeElement.closest("dialog") === document.getElementById(%q)`, id))
}

func row(id string) string { return fmt.Sprintf(`tr[data-key-id=%q]`, id) }

// The seed's path through the screen: create → the secret shown once → the
// row listed → revoke and confirm → the row greyed with its revocation time
// → that key gets 401.
func TestBrowserCreateAndRevoke(t *testing.T) {
	site := newStackSite(t)
	b := newBrowser(t, site, 1440, 900)
	b.signIn("org_a", "u_admin", "admin")
	b.do("empty list", chromedp.WaitVisible(chromedp.ID("keys-empty")))
	if got := eval[string](b, `document.getElementById("who-text").textContent`); !strings.Contains(got, "u_admin") {
		t.Errorf("signed-in user shown as %q", got)
	}
	b.screenshot("01-empty")

	// Create, first with an address the API refuses: the error sits next to the field.
	b.do("open create",
		chromedp.Click(chromedp.ID("create-open")),
		chromedp.WaitVisible(chromedp.ID("create-label")),
	)
	if !b.focusInDialog("create-dialog") {
		t.Error("focus is not in the create dialog")
	}
	b.do("fill create",
		chromedp.SendKeys(chromedp.ID("create-label"), "n8n production"),
		chromedp.Click(chromedp.ID("create-scope-choose")),
		chromedp.Click(chromedp.ID("create-scope-messages-send")),
		chromedp.Click(chromedp.CSS("#create-form details summary")),
		chromedp.SetValue(chromedp.ID("create-ips"), "127.0.0.0/8\nnot-an-address"),
		chromedp.Click(chromedp.CSS(`#create-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("create-allowed_ips-error")),
	)
	if msg := eval[string](b, `document.getElementById("create-allowed_ips-error").textContent`); !strings.Contains(msg, "not-an-address") && !strings.Contains(strings.ToLower(msg), "ip") {
		t.Errorf("allowed IPs error says %q", msg)
	}
	if !eval[bool](b, `document.getElementById("create-ips").getAttribute("aria-invalid") === "true" && document.activeElement.id === "create-ips"`) {
		t.Error("the refused field is not marked invalid and focused")
	}
	b.screenshot("02-create-error")
	b.do("fix and create",
		chromedp.SetValue(chromedp.ID("create-ips"), "127.0.0.0/8"), // the test calls from loopback
		chromedp.Click(chromedp.CSS(`#create-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("secret-value")),
	)
	secret := eval[string](b, `document.getElementById("secret-value").value`)
	if len(secret) != 48 || !strings.HasPrefix(secret, "flwl_test_") {
		t.Fatalf("secret shown is %d characters: %.10s…", len(secret), secret)
	}
	if !eval[bool](b, `document.getElementById("secret-warning").textContent.includes("only time")`) {
		t.Error("no warning that the secret is shown once")
	}
	if !b.focusInDialog("secret-dialog") {
		t.Error("focus is not in the secret dialog")
	}
	b.do("copy", chromedp.Click(chromedp.ID("secret-copy")))
	b.until("copy answered", `document.getElementById("secret-copied").textContent !== ""`)
	b.screenshot("03-secret-shown-once")

	// Closed, the secret is gone from the page, and no reload brings it back.
	b.do("close secret", chromedp.Click(chromedp.CSS(`#secret-dialog [data-close]`)))
	b.until("the row listed", `document.querySelector('#keys-body tr[data-status="active"]') !== null`)
	b.until("the secret leaves the page", `!document.getElementById("secret-dialog").open && document.getElementById("secret-value").value === ""`)
	if eval[bool](b, fmt.Sprintf(`document.documentElement.outerHTML.includes(%q)`, secret)) {
		t.Error("the secret is still in the page after its dialog closed")
	}
	id := eval[string](b, `document.querySelector("#keys-body tr").dataset.keyId`)
	texts := eval[string](b, fmt.Sprintf(`document.querySelector(%q).textContent`, row(id)))
	for _, want := range []string{"n8n production", secret[:16], "messages:send", "u_admin", "Never", "Active", "127.0.0.0/8"} {
		if !strings.Contains(texts, want) {
			t.Errorf("row lacks %q: %s", want, texts)
		}
	}
	b.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(row(id))))
	if eval[bool](b, fmt.Sprintf(`document.documentElement.outerHTML.includes(%q) || JSON.stringify(sessionStorage).includes(%q)`, secret, secret)) {
		t.Error("the secret came back after a reload")
	}

	// The key works until it is revoked.
	if status, body := site.call("GET", "/v1/whoami", secret, nil); status != http.StatusOK {
		t.Fatalf("whoami with the new key: %d %v", status, body)
	}

	// Revoke: Escape cancels, focus stays in the dialog, confirm revokes.
	revoke := row(id) + ` button[data-action="revoke"]`
	b.do("open revoke", chromedp.Click(chromedp.CSS(revoke)), chromedp.WaitVisible(chromedp.ID("revoke-confirm")))
	if !b.focusInDialog("revoke-dialog") || eval[string](b, `document.activeElement.textContent`) != "Cancel" {
		t.Error("the revoke dialog does not start on Cancel")
	}
	b.screenshot("04-revoke-dialog")
	b.do("escape", chromedp.KeyEvent(kb.Escape))
	b.until("dialog closed, focus back on Revoke", `!document.getElementById("revoke-dialog").open && document.activeElement.dataset.action === "revoke"`)
	if status, _ := site.call("GET", "/v1/whoami", secret, nil); status != http.StatusOK {
		t.Fatal("Escape revoked the key")
	}
	b.do("open revoke again", chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.ID("revoke-confirm")))
	for i := range 8 {
		b.do("tab", chromedp.KeyEvent(kb.Tab))
		if !b.focusInDialog("revoke-dialog") {
			t.Fatalf("Tab %d left the dialog", i+1)
		}
	}
	b.do("shift tab", chromedp.KeyEvent(kb.Tab, chromedp.KeyModifiers(chromedp.ModifierShift)))
	if !b.focusInDialog("revoke-dialog") {
		t.Fatal("Shift+Tab left the dialog")
	}
	b.do("confirm",
		chromedp.SendKeys(chromedp.ID("revoke-reason"), "rotated after the demo"),
		chromedp.Click(chromedp.ID("revoke-confirm")),
	)
	b.until("row greyed", fmt.Sprintf(`document.querySelector('%s.inactive[data-status="revoked"]') !== null`, row(id)))
	status, key := site.call("GET", "/v1/api-keys/"+id, site.token("org_a", "u_admin", "admin"), nil)
	if status != http.StatusOK || key["revoked_at"] == nil {
		t.Fatalf("key after revoke: %d %v", status, key)
	}
	shown := eval[string](b, fmt.Sprintf(`document.querySelector('%s td.status time').getAttribute("datetime")`, row(id)))
	if shown != key["revoked_at"] {
		t.Errorf("row shows revocation time %q, key says %v", shown, key["revoked_at"])
	}
	if bg := eval[string](b, fmt.Sprintf(`getComputedStyle(document.querySelector('%s td')).backgroundColor`, row(id))); bg != "rgb(240, 242, 244)" {
		t.Errorf("revoked row background %s, want the greyed rgb(240, 242, 244)", bg)
	}
	if eval[bool](b, fmt.Sprintf(`document.querySelector(%q) !== null`, revoke)) {
		t.Error("a revoked row still offers Revoke")
	}
	b.screenshot("05-revoked")

	// That key now gets 401.
	if status, body := site.call("GET", "/v1/whoami", secret, nil); status != http.StatusUnauthorized {
		t.Fatalf("whoami with the revoked key: %d %v, want 401", status, body)
	}

	// The status filter hides it from the active list.
	b.do("filter active", chromedp.SetValue(chromedp.ID("status-filter"), "active"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("status-filter").dispatchEvent(new Event("change"))`))
	b.until("no active keys", `!document.getElementById("keys-empty").hidden`)

	// The audit log shows what happened, with the reason.
	b.do("audit log", chromedp.Click(chromedp.ID("tab-audit")))
	b.until("audit records", `document.querySelector('#audit-body tr[data-audit-type="api_key.revoked"]') !== null && document.querySelector('#audit-body tr[data-audit-type="api_key.created"]') !== null`)
	if !eval[bool](b, `document.getElementById("audit-body").textContent.includes("rotated after the demo")`) {
		t.Error("the revoke reason is not in the audit log")
	}
	if eval[bool](b, `document.getElementById("audit-body").textContent.includes("null")`) {
		t.Error(`the audit log shows "null"`)
	}
	b.screenshot("06-audit-log")
}

// Members and read-only users are told they have no access.
func TestBrowserMemberHasNoAccess(t *testing.T) {
	site := newStackSite(t)
	b := newBrowser(t, site, 1440, 900)
	for _, role := range []string{"member", "read_only"} {
		b.signIn("org_a", "u_"+role, role)
		b.do(role+" sees no access", chromedp.WaitVisible(chromedp.ID("view-no-access")))
		if !eval[bool](b, `document.getElementById("view-app").hidden && document.querySelector("dialog[open]") === null`) {
			t.Errorf("%s sees the keys screen", role)
		}
		if got := eval[string](b, `document.getElementById("no-access-text").textContent`); !strings.Contains(got, "owners and admins") {
			t.Errorf("%s is told %q", role, got)
		}
		if role == "member" {
			b.screenshot("07-member-no-access")
		}
		b.do("sign out", chromedp.Click(chromedp.ID("sign-out")), chromedp.WaitVisible(chromedp.ID("token-form")))
	}
	// Without a session the page asks for one, and offers the local sign-in.
	b.do("signed out", chromedp.WaitVisible(chromedp.CSS(`#local-sign-in a`)))
	b.do("a pasted token that is not one",
		chromedp.SetValue(chromedp.ID("token-input"), "flwl_test_not_a_session"),
		chromedp.Click(chromedp.CSS(`#token-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("token-error")),
	)
	b.do("a pasted admin token",
		chromedp.SetValue(chromedp.ID("token-input"), site.token("org_a", "u_pasted", "owner")),
		chromedp.Click(chromedp.CSS(`#token-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("keys-empty")),
	)
}

// Edit, roll with a grace period, paging, the key's detail, the audit log
// explained where the plan lacks it, the many-keys warning, and a 375 px
// wide screen.
func TestBrowserEditRollDetailAndPaging(t *testing.T) {
	site := newStackSite(t)
	admin := site.token("org_a", "u_admin", "admin")
	for i := range 26 {
		body := map[string]any{"label": fmt.Sprintf("script %02d", i)}
		if i == 3 {
			body["channels"] = []string{"wa_main"}
			body["expires_at"] = time.Now().Add(90 * 24 * time.Hour).UTC().Format(time.RFC3339)
		}
		if status, out := site.call("POST", "/v1/api-keys", admin, body); status != http.StatusCreated {
			t.Fatalf("create: %d %v", status, out)
		}
	}
	b := newBrowser(t, site, 1440, 900)
	b.signIn("org_a", "u_admin", "admin")
	b.until("first page", `document.querySelectorAll("#keys-body tr").length === 25 && !document.getElementById("keys-more").hidden`)
	b.do("next page", chromedp.Click(chromedp.ID("keys-more")))
	b.until("second page", `document.querySelectorAll("#keys-body tr").length === 26 && document.getElementById("keys-more").hidden`)

	// Edit the newest key's label and scopes.
	first := eval[string](b, `document.querySelector("#keys-body tr").dataset.keyId`)
	b.do("edit",
		chromedp.Click(chromedp.CSS(row(first)+` button[data-action="edit"]`)),
		chromedp.WaitVisible(chromedp.ID("edit-label")),
		chromedp.SetValue(chromedp.ID("edit-label"), "zapier"),
		chromedp.Click(chromedp.ID("edit-scope-choose")),
		chromedp.Click(chromedp.ID("edit-scope-contacts-read")),
		chromedp.Click(chromedp.CSS(`#edit-form button[type="submit"]`)),
	)
	b.until("edited", fmt.Sprintf(`(document.querySelector('%s') || {textContent: ""}).textContent.includes("zapier") && document.querySelector('%s').textContent.includes("contacts:read")`, row(first), row(first)))

	// A label the API refuses is reported next to the label.
	b.do("edit again",
		chromedp.Click(chromedp.CSS(row(first)+` button[data-action="edit"]`)),
		chromedp.WaitVisible(chromedp.ID("edit-label")),
		chromedp.SetValue(chromedp.ID("edit-label"), strings.Repeat("x", 101)), // past maxlength, as a script could
		chromedp.Click(chromedp.CSS(`#edit-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("edit-label-error")),
		chromedp.KeyEvent(kb.Escape),
	)

	// Roll it with a day's grace: the new secret once, the old key still active until then.
	b.do("roll",
		chromedp.Click(chromedp.CSS(row(first)+` button[data-action="roll"]`)),
		chromedp.WaitVisible(chromedp.ID("roll-grace")),
		chromedp.SetValue(chromedp.ID("roll-grace"), "86400"),
		chromedp.Click(chromedp.CSS(`#roll-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("secret-value")),
	)
	rolled := eval[string](b, `document.getElementById("secret-value").value`)
	if !eval[bool](b, `document.getElementById("secret-context").textContent.includes("keeps working until")`) {
		t.Error("the roll does not say how long the old key keeps working")
	}
	b.do("close secret", chromedp.Click(chromedp.CSS(`#secret-dialog [data-close]`)))
	status, who := site.call("GET", "/v1/whoami", rolled, nil)
	if status != http.StatusOK {
		t.Fatalf("whoami with the rolled key: %d %v", status, who)
	}
	newID, _ := who["key_id"].(string)
	b.until("old key replaced", fmt.Sprintf(`document.querySelector('%s').textContent.includes("Replaced; works until")`, row(first)))

	// The many-keys warning, from 50 active keys.
	for i := range 24 {
		if status, out := site.call("POST", "/v1/api-keys", admin, map[string]any{"label": fmt.Sprintf("bulk %02d", i)}); status != http.StatusCreated {
			t.Fatalf("create: %d %v", status, out)
		}
	}
	b.do("reload", chromedp.Reload())
	b.until("warning", `document.querySelector('#warnings [data-warning="many_active_keys"]') !== null`)
	b.screenshotViewport("08-many-keys-warning")

	// The detail of the key the roll made (the list holds 50 now: go by its address).
	b.do("detail", chromedp.Navigate(site.url+"/settings/api-keys#"+newID), chromedp.WaitVisible(chromedp.CSS("#detail-body dl")))
	b.until("detail loaded", `document.getElementById("detail-title").textContent === "zapier"`)
	b.until("activity explained", `document.getElementById("detail-activity").textContent.trim() !== "Loading…" && document.getElementById("detail-activity").textContent !== ""`)
	b.until("its activity: the whoami above", `document.querySelector('#detail-activity table tbody tr') !== null && document.getElementById("detail-activity").textContent.includes("GET /v1/whoami")`)
	b.until("its audit records", `document.querySelector('#detail-audit tr[data-audit-type]') !== null`)
	if eval[bool](b, `document.getElementById("detail-audit").textContent.includes("null")`) {
		t.Error(`the key's audit log shows "null"`)
	}
	b.screenshot("09-key-detail")
	b.do("back", chromedp.Click(chromedp.CSS("#view-detail .back-link")), chromedp.WaitVisible(chromedp.ID("keys-table")))

	// 375 px wide: rows become cards, nothing scrolls sideways.
	b.do("narrow", chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#keys-body tr")))
	if w := eval[float64](b, `document.documentElement.scrollWidth`); w > 375 {
		t.Errorf("page is %v px wide at 375 px", w)
	}
	b.screenshotViewport("10-narrow-list")
	b.do("narrow create", chromedp.Click(chromedp.ID("create-open")), chromedp.WaitVisible(chromedp.ID("create-label")))
	if w := eval[float64](b, `document.getElementById("create-dialog").getBoundingClientRect().right`); w > 375 {
		t.Errorf("the create dialog reaches %v px at 375 px", w)
	}
	b.screenshotViewport("11-narrow-create")
	b.do("close", chromedp.KeyEvent(kb.Escape))

	// A plan without the audit log: explained, not an error.
	b.do("wide", chromedp.EmulateViewport(1440, 900))
	b.do("sign out", chromedp.Click(chromedp.ID("sign-out")))
	// A key holding a scope the hobby plan does not grant: the list and the
	// detail mark that scope, and only that one.
	status, reports := site.call("POST", "/v1/api-keys", site.token("org_c", "u_hobby", "owner"),
		map[string]any{"label": "reports", "scopes": []string{"messages:send", "analytics:read"}})
	if status != http.StatusCreated {
		t.Fatalf("create a key outside the plan: %d %v", status, reports)
	}
	reportsRow := fmt.Sprintf(`#keys-body tr[data-key-id="%s"]`, reports["id"])
	b.signIn("org_c", "u_hobby", "owner")
	b.do("hobby keys", chromedp.WaitVisible(chromedp.CSS(reportsRow)))
	marked := fmt.Sprintf(`Array.from(document.querySelectorAll('%s [data-outside-plan]'), s => s.textContent).join(" ")`, "%s")
	if got := eval[string](b, fmt.Sprintf(marked, reportsRow)); got != "analytics:read" {
		t.Errorf("scopes marked outside the plan in the list: %q, want analytics:read", got)
	}
	b.do("its detail", chromedp.Navigate(site.url+"/settings/api-keys#"+reports["id"].(string)), chromedp.WaitVisible(chromedp.CSS("#detail-body dl")))
	b.until("detail loaded", `document.getElementById("detail-title").textContent === "reports"`)
	if got := eval[string](b, fmt.Sprintf(marked, "#detail-body")); got != "analytics:read" {
		t.Errorf("scopes marked outside the plan in the detail: %q, want analytics:read", got)
	}
	b.screenshot("12-scope-outside-plan")
	b.do("back to the list", chromedp.Click(chromedp.CSS("#view-detail .back-link")), chromedp.WaitVisible(chromedp.ID("keys-table")))
	b.do("hobby audit", chromedp.Click(chromedp.ID("tab-audit")), chromedp.WaitVisible(chromedp.CSS(`#audit-body [data-feature="audit_log"]`)))
	if eval[bool](b, `document.querySelector("#audit-body .notice-error") !== null`) {
		t.Error("feature_not_enabled shown as an error")
	}
	b.screenshot("13-audit-not-in-plan")
}

// TestBrowserREADMEScreenshot draws a list with every kind of row, for the
// README (go test ./local/localsite -run README -update-docs writes it).
func TestBrowserREADMEScreenshot(t *testing.T) {
	site := newStackSite(t)
	admin := site.token("org_a", "u_ana", "owner")
	create := func(body map[string]any) string {
		status, out := site.call("POST", "/v1/api-keys", admin, body)
		if status != http.StatusCreated {
			t.Fatalf("create: %d %v", status, out)
		}
		return out["id"].(string)
	}
	reporting := create(map[string]any{"label": "Nightly report export", "scopes": []string{"analytics:read"}})
	site.age(reporting, 400*24*time.Hour)
	old := create(map[string]any{"label": "Legacy import script"})
	site.call("POST", "/v1/api-keys/"+old+"/revoke", admin, map[string]any{"reason": "replaced by the n8n workflow"})
	create(map[string]any{"label": "Zapier", "scopes": []string{"contacts:read", "contacts:write"}})
	create(map[string]any{"label": "Support inbox", "scopes": []string{"messages:read", "messages:send"}, "channels": []string{"wa_support"}})
	create(map[string]any{"label": "Campaign tool (trial)", "scopes": []string{"messages:send", "templates:read"},
		"expires_at": time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339)})
	_, secret := func() (string, string) {
		status, out := site.call("POST", "/v1/api-keys", admin, map[string]any{"label": "n8n production",
			"scopes": []string{"messages:send"}, "allowed_ips": []string{"127.0.0.1", "203.0.113.0/24"}})
		if status != http.StatusCreated {
			t.Fatalf("create: %d %v", status, out)
		}
		return out["id"].(string), out["secret"].(string)
	}()
	if status, _ := site.call("GET", "/v1/whoami", secret, nil); status != http.StatusOK {
		t.Fatal("whoami")
	}
	b := newBrowser(t, site, 1440, 760)
	b.signIn("org_a", "u_ana", "owner")
	b.until("list", `document.querySelectorAll("#keys-body tr").length === 6`)
	flags := eval[string](b, fmt.Sprintf(`Array.from(document.querySelectorAll('%s [data-flag]'), f => f.dataset.flag).join(" ")`, row(reporting)))
	if flags != "older_than_12_months unused_90_days" {
		t.Errorf("the year-old unused key is flagged %q", flags)
	}
	if !eval[bool](b, `(w => w.scrollWidth <= w.clientWidth)(document.querySelector("#view-keys .table-wrap"))`) {
		t.Error("the keys table scrolls sideways at 1440 px")
	}
	path := b.screenshot("00-readme")
	if *updateDocs {
		png, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(filepath.Dir(dynamotest.TemplatePath(t)), "docs", "settings-api-keys.png")
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", dst)
	}
}
