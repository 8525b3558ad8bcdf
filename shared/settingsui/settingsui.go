// Package settingsui is the Settings → API keys page: static HTML, CSS and
// JavaScript embedded in the binary, with no build step. The page calls only
// the admin HTTP API, on its own origin, with the signed-in user's session
// token. Handler serves it (make run); Export writes it out for a static
// host (S3 behind CloudFront, in front of the API: see the README).
package settingsui

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"

	"github.com/flowella/apikeys/shared/authz"
)

// PagePath is where the page lives; its assets are under AssetsPath.
const (
	PagePath   = "/settings/api-keys"
	AssetsPath = "/settings/assets/"
)

//go:embed assets
var assets embed.FS

// Scope is one entry of the scope catalog as the page shows it.
type Scope struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// scopesJSON is the scope catalog the create and edit forms offer. No admin
// endpoint tells a session which scopes its organisation's plan grants, so
// the page offers the catalog, with "the whole plan" as the default.
func scopesJSON(c *authz.Catalog) ([]byte, error) {
	out := struct {
		Scopes []Scope `json:"scopes"`
	}{Scopes: []Scope{}}
	for name, desc := range c.Scopes {
		out.Scopes = append(out.Scopes, Scope{Name: name, Description: desc})
	}
	sort.Slice(out.Scopes, func(i, j int) bool { return out.Scopes[i].Name < out.Scopes[j].Name })
	return json.MarshalIndent(out, "", "  ")
}

// files are the site's paths and what each holds.
func files(c *authz.Catalog) (map[string][]byte, error) {
	site := map[string][]byte{}
	for path, name := range map[string]string{
		PagePath:               "api-keys.html",
		AssetsPath + "app.js":  "app.js",
		AssetsPath + "app.css": "app.css",
	} {
		b, err := fs.ReadFile(assets, "assets/"+name)
		if err != nil {
			return nil, fmt.Errorf("settings page: %w", err)
		}
		site[path] = b
	}
	scopes, err := scopesJSON(c)
	if err != nil {
		return nil, err
	}
	site[AssetsPath+"scopes.json"] = scopes
	return site, nil
}

var contentTypes = map[string]string{
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".json": "application/json",
}

func contentType(path string) string {
	if t, ok := contentTypes[filepath.Ext(path)]; ok {
		return t
	}
	return "text/html; charset=utf-8"
}

// SecurityHeaders are sent with every file, here and (through a CloudFront
// response headers policy) when deployed: no inline script, no framing, no
// referrer, nothing fetched from another origin.
var SecurityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
	"X-Content-Type-Options": "nosniff",
	"Referrer-Policy":        "no-referrer",
	"Cache-Control":          "no-cache",
}

// Handler serves the page at PagePath and its assets under AssetsPath, with
// the scope catalog c; other paths are 404.
func Handler(c *authz.Catalog) (http.Handler, error) {
	site, err := files(c)
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Path
		if path == PagePath+"/" || path == "/settings" || path == "/settings/" {
			http.Redirect(w, r, PagePath, http.StatusFound)
			return
		}
		body, ok := site[path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		for k, v := range SecurityHeaders {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", contentType(path))
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(body)
	}), nil
}

// Export writes the site under dir, one file per path; the page itself is
// written as settings/api-keys/index.html, for a static host that serves
// directory indexes (see the README for CloudFront).
func Export(dir string, c *authz.Catalog) ([]string, error) {
	site, err := files(c)
	if err != nil {
		return nil, err
	}
	var written []string
	for path, body := range site {
		rel := path[1:]
		if path == PagePath {
			rel += "/index.html"
		}
		dst := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, fmt.Errorf("export settings page: %w", err)
		}
		if err := os.WriteFile(dst, body, 0o644); err != nil {
			return nil, fmt.Errorf("export settings page: %w", err)
		}
		written = append(written, rel)
	}
	sort.Strings(written)
	return written, nil
}
