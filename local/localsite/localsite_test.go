package localsite_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowella/apikeys/local/dynamotest"
	"github.com/flowella/apikeys/local/localsite"
	"github.com/flowella/apikeys/shared/session"
)

const testSecret = "local-test-secret-0123456789abcdef0123"

// apiRecorder stands in for the gateway: it notes the paths it is given.
type apiRecorder struct{ paths []string }

func (a *apiRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.paths = append(a.paths, r.URL.Path)
	w.WriteHeader(http.StatusTeapot)
}

func newSite(t *testing.T, cfg localsite.Config) (http.Handler, *apiRecorder) {
	t.Helper()
	api := &apiRecorder{}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	h, err := localsite.New(api, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h, api
}

func TestSignIn(t *testing.T) {
	h, _ := newSite(t, localsite.Config{SessionSecret: testSecret, TTL: time.Hour})
	tests := []struct {
		name        string
		host        string
		contentType string
		origin      string
		body        string
		status      int
		code        string
		fields      []string
		want        session.Principal
	}{
		{name: "admin", body: `{"org_id":"org_demo","user_id":"u_1","role":"admin"}`, status: 200,
			want: session.Principal{OrgID: "org_demo", UserID: "u_1", Role: "admin"}},
		{name: "member, trimmed", body: `{"org_id":" org_hobby ","user_id":"u_2","role":"member"}`, status: 200,
			want: session.Principal{OrgID: "org_hobby", UserID: "u_2", Role: "member"}},
		{name: "localhost and same origin", host: "localhost:3000", origin: "http://localhost:3000",
			body: `{"org_id":"org_demo","user_id":"u_1","role":"owner"}`, status: 200,
			want: session.Principal{OrgID: "org_demo", UserID: "u_1", Role: "owner"}},
		{name: "ipv6 loopback", host: "[::1]:3000", body: `{"org_id":"org_demo","user_id":"u_1","role":"read_only"}`, status: 200,
			want: session.Principal{OrgID: "org_demo", UserID: "u_1", Role: "read_only"}},
		{name: "unknown role", body: `{"org_id":"org_demo","user_id":"u_1","role":"root"}`, status: 400,
			code: "validation_failed", fields: []string{"role"}},
		{name: "empty ids", body: `{"org_id":" ","user_id":"","role":"admin"}`, status: 400,
			code: "validation_failed", fields: []string{"org_id", "user_id"}},
		{name: "odd characters", body: `{"org_id":"org demo","user_id":"u<1>","role":"admin"}`, status: 400,
			code: "validation_failed", fields: []string{"org_id", "user_id"}},
		{name: "unknown field", body: `{"org_id":"org_demo","user_id":"u_1","role":"admin","exp":1}`, status: 400, code: "validation_failed"},
		{name: "not json", body: `org_id=org_demo`, status: 400, code: "validation_failed"},
		{name: "a cross-site form", contentType: "application/x-www-form-urlencoded",
			body: `org_id=org_demo&user_id=u_1&role=admin`, status: 415, code: "unsupported_media_type"},
		{name: "another origin", origin: "http://evil.example",
			body: `{"org_id":"org_demo","user_id":"u_1","role":"admin"}`, status: 403, code: "forbidden"},
		{name: "a rebound host name", host: "evil.example:3000",
			body: `{"org_id":"org_demo","user_id":"u_1","role":"admin"}`, status: 403},
	}
	verifier, err := session.NewVerifier(context.Background(), session.Config{HS256Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", localsite.SignInPath, strings.NewReader(tc.body))
			req.Host = "127.0.0.1:3000"
			if tc.host != "" {
				req.Host = tc.host
			}
			req.Header.Set("Content-Type", "application/json")
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if tc.status == 200 {
				var got struct {
					Token     string `json:"token"`
					OrgID     string `json:"org_id"`
					ExpiresAt string `json:"expires_at"`
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
					t.Fatal(err)
				}
				p, err := verifier.Verify(got.Token)
				if err != nil {
					t.Fatalf("minted token refused: %v", err)
				}
				if p != tc.want || got.OrgID != tc.want.OrgID {
					t.Errorf("token for %+v (answer names %s), want %+v", p, got.OrgID, tc.want)
				}
				if exp, err := time.Parse(time.RFC3339, got.ExpiresAt); err != nil || time.Until(exp) > time.Hour {
					t.Errorf("expires_at %q, want within the hour", got.ExpiresAt)
				}
				if rec.Header().Get("Cache-Control") != "no-store" {
					t.Error("a token response must not be cached")
				}
				return
			}
			if tc.code == "" {
				return
			}
			var e struct {
				Error struct {
					Code    string
					Details []struct{ Field string }
				}
				RequestID string `json:"request_id"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
				t.Fatalf("error body %s: %v", rec.Body, err)
			}
			if e.Error.Code != tc.code || e.RequestID == "" {
				t.Errorf("error %s, want code %s and a request id", rec.Body, tc.code)
			}
			var fields []string
			for _, d := range e.Error.Details {
				fields = append(fields, d.Field)
			}
			if tc.fields != nil && strings.Join(fields, ",") != strings.Join(tc.fields, ",") {
				t.Errorf("details name %v, want %v", fields, tc.fields)
			}
		})
	}
}

// The minted token carries the issuer and audience the stack checks.
func TestSignInIssuerAudience(t *testing.T) {
	h, _ := newSite(t, localsite.Config{SessionSecret: testSecret, Issuer: "https://id.local", Audience: "flowella"})
	req := httptest.NewRequest("POST", localsite.SignInPath, strings.NewReader(`{"org_id":"org_demo","user_id":"u_1","role":"admin"}`))
	req.Host = "127.0.0.1:3000"
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var got struct{ Token string }
	_ = json.Unmarshal(rec.Body.Bytes(), &got)
	v, err := session.NewVerifier(context.Background(), session.Config{HS256Secret: testSecret, Issuer: "https://id.local", Audience: "flowella"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(got.Token); err != nil {
		t.Fatalf("token refused by a verifier that checks iss and aud: %v", err)
	}
}

func TestSignInPage(t *testing.T) {
	h, _ := newSite(t, localsite.Config{SessionSecret: testSecret})
	for _, tc := range []struct{ method, path, contentType string }{
		{"GET", localsite.SignInPath, "text/html; charset=utf-8"},
		{"HEAD", localsite.SignInPath, "text/html; charset=utf-8"},
		{"GET", "/local/assets/sign-in.js", "text/javascript; charset=utf-8"},
	} {
		req := httptest.NewRequest(tc.method, tc.path, nil)
		req.Host = "127.0.0.1:3000"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 || rec.Header().Get("Content-Type") != tc.contentType {
			t.Errorf("%s %s: %d %q", tc.method, tc.path, rec.Code, rec.Header().Get("Content-Type"))
		}
		if rec.Header().Get("Content-Security-Policy") == "" {
			t.Errorf("%s %s: no Content-Security-Policy", tc.method, tc.path)
		}
	}
}

// Without an HS256 secret (the stack trusts an identity provider) there is
// no local sign-in, and the settings page offers none.
func TestSignInOffWithoutSecret(t *testing.T) {
	h, _ := newSite(t, localsite.Config{})
	for _, method := range []string{"GET", "HEAD", "POST"} {
		req := httptest.NewRequest(method, localsite.SignInPath, strings.NewReader(`{"org_id":"o","user_id":"u","role":"admin"}`))
		req.Host = "127.0.0.1:3000"
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotFound || strings.Contains(rec.Body.String(), "token\"") {
			t.Errorf("%s: %d %s", method, rec.Code, rec.Body)
		}
	}
}

// Everything but /settings/ and the sign-in reaches the API as it came:
// not cleaned, not redirected.
func TestOtherPathsReachTheAPI(t *testing.T) {
	h, api := newSite(t, localsite.Config{SessionSecret: testSecret})
	paths := []string{"/v1/api-keys", "/v1/whoami", "/", "//v1/api-keys", "/v1/../v1/api-keys", "/local/other", "/settingsx"}
	for _, p := range paths {
		req := httptest.NewRequest("GET", "http://127.0.0.1:3000/", nil)
		req.URL.Path = p
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusTeapot {
			t.Errorf("%s: %d, want the API's answer", p, rec.Code)
		}
	}
	if strings.Join(api.paths, " ") != strings.Join(paths, " ") {
		t.Errorf("the API saw %q, want %q", api.paths, paths)
	}
}

// The sign-in mints tokens: it must exist only in `make run`. No Lambda
// binary links this package, only cmd/local imports it, and the template
// routes nothing under /local/ or /settings/.
func TestSignInIsLocalOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	root := filepath.Dir(dynamotest.TemplatePath(t))
	const pkg = "github.com/flowella/apikeys/local/localsite"
	out, err := exec.Command("go", "list", "-C", root, "-e", "-deps", "./functions/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == pkg {
			t.Fatalf("a Lambda function links %s", pkg)
		}
	}
	out, err = exec.Command("go", "list", "-C", root, "-e", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		for _, imp := range f[1:] {
			if imp == pkg && f[0] != "github.com/flowella/apikeys/cmd/local" {
				t.Errorf("%s imports %s; only cmd/local may", f[0], pkg)
			}
		}
	}
	tpl, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/local/", "sign-in"} {
		if strings.Contains(string(tpl), p) {
			t.Errorf("template.yaml mentions %q", p)
		}
	}
}
