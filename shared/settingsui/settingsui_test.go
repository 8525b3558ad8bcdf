package settingsui_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/flowella/apikeys/shared/authz"
	"github.com/flowella/apikeys/shared/settingsui"
)

func handler(t *testing.T) (http.Handler, *authz.Catalog) {
	t.Helper()
	c, err := authz.Load()
	if err != nil {
		t.Fatal(err)
	}
	h, err := settingsui.Handler(c)
	if err != nil {
		t.Fatal(err)
	}
	return h, c
}

func TestHandler(t *testing.T) {
	h, _ := handler(t)
	tests := []struct {
		name, method, path string
		status             int
		contentType        string
		location           string
	}{
		{name: "page", method: "GET", path: "/settings/api-keys", status: 200, contentType: "text/html; charset=utf-8"},
		{name: "script", method: "GET", path: "/settings/assets/app.js", status: 200, contentType: "text/javascript; charset=utf-8"},
		{name: "styles", method: "GET", path: "/settings/assets/app.css", status: 200, contentType: "text/css; charset=utf-8"},
		{name: "scope catalog", method: "GET", path: "/settings/assets/scopes.json", status: 200, contentType: "application/json"},
		{name: "head", method: "HEAD", path: "/settings/api-keys", status: 200, contentType: "text/html; charset=utf-8"},
		{name: "trailing slash", method: "GET", path: "/settings/api-keys/", status: 302, location: "/settings/api-keys"},
		{name: "settings root", method: "GET", path: "/settings/", status: 302, location: "/settings/api-keys"},
		{name: "unknown asset", method: "GET", path: "/settings/assets/nope.js", status: 404},
		{name: "no directory listing", method: "GET", path: "/settings/assets/", status: 404},
		{name: "no traversal", method: "GET", path: "/settings/assets/../settingsui.go", status: 404},
		{name: "post", method: "POST", path: "/settings/api-keys", status: 405},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			if tc.location != "" && rec.Header().Get("Location") != tc.location {
				t.Errorf("Location %q, want %q", rec.Header().Get("Location"), tc.location)
			}
			if tc.status != 200 {
				return
			}
			if got := rec.Header().Get("Content-Type"); got != tc.contentType {
				t.Errorf("Content-Type %q, want %q", got, tc.contentType)
			}
			for k, v := range settingsui.SecurityHeaders {
				if rec.Header().Get(k) != v {
					t.Errorf("%s %q, want %q", k, rec.Header().Get(k), v)
				}
			}
			if tc.method == "HEAD" && rec.Body.Len() != 0 {
				t.Error("HEAD has a body")
			}
		})
	}
}

// The create and edit forms offer exactly the catalog's scopes.
func TestScopesAreTheCatalog(t *testing.T) {
	h, c := handler(t)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/settings/assets/scopes.json", nil))
	var got struct{ Scopes []settingsui.Scope }
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Scopes) != len(c.Scopes) {
		t.Fatalf("%d scopes, the catalog has %d", len(got.Scopes), len(c.Scopes))
	}
	for _, s := range got.Scopes {
		if c.Scopes[s.Name] != s.Description {
			t.Errorf("scope %s: %q, catalog %q", s.Name, s.Description, c.Scopes[s.Name])
		}
	}
	if !slices.IsSortedFunc(got.Scopes, func(a, b settingsui.Scope) int { return strings.Compare(a.Name, b.Name) }) {
		t.Error("scopes not sorted by name")
	}
}

// No CDN, no other origin, no inline script: the page's assets reference
// only its own origin, as its Content-Security-Policy demands.
func TestAssetsAreSelfContained(t *testing.T) {
	h, _ := handler(t)
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/|@import|<script>|\son[a-z]+=|style=`)
	for _, path := range []string{"/settings/api-keys", "/settings/assets/app.js", "/settings/assets/app.css"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		body, _ := io.ReadAll(rec.Body)
		if m := external.Find(body); m != nil {
			t.Errorf("%s references %q", path, m)
		}
	}
}

// Every element the script looks up by id exists in the page.
func TestScriptIDsExistInPage(t *testing.T) {
	h, _ := handler(t)
	get := func(path string) string {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec.Body.String()
	}
	page, script := get("/settings/api-keys"), get("/settings/assets/app.js")
	for _, m := range regexp.MustCompile(`el\('([a-z0-9_-]+)'\)`).FindAllStringSubmatch(script, -1) {
		if !strings.Contains(page, `id="`+m[1]+`"`) {
			t.Errorf("app.js uses #%s, which the page lacks", m[1])
		}
	}
}

func TestExport(t *testing.T) {
	c, err := authz.Load()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	written, err := settingsui.Export(dir, c)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"settings/api-keys/index.html", "settings/assets/app.css", "settings/assets/app.js", "settings/assets/scopes.json"}
	if !slices.Equal(written, want) {
		t.Fatalf("wrote %v, want %v", written, want)
	}
	page, err := os.ReadFile(filepath.Join(dir, "settings", "api-keys", "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), `src="/settings/assets/app.js"`) {
		t.Error("exported page does not load its script from /settings/assets/")
	}
}
