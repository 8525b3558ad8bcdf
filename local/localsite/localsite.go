// Package localsite is what `make run` serves on its one port: the Settings
// → API keys page (shared/settingsui), a local-only sign-in that mints a
// session token with the stack's HS256 secret, and the API itself.
//
// Only cmd/local imports this package. The sign-in exists nowhere else: not
// in template.yaml, not in any Lambda binary (localsite_test.go checks both).
package localsite

import (
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/flowella/apikeys/local/localsession"
	"github.com/flowella/apikeys/shared/authz"
	"github.com/flowella/apikeys/shared/httpapi"
	"github.com/flowella/apikeys/shared/session"
	"github.com/flowella/apikeys/shared/settingsui"
)

// SignInPath serves the sign-in form (GET) and mints a token (POST).
const (
	SignInPath   = "/local/sign-in"
	signInScript = "/local/assets/sign-in.js"
)

//go:embed assets
var assets embed.FS

// Config is the local site's configuration.
type Config struct {
	// SessionSecret is the HS256 secret the stack verifies session tokens
	// with. Empty turns the sign-in off (the stack then trusts an identity
	// provider's tokens, which only that provider can mint).
	SessionSecret    string
	Issuer, Audience string        // put in minted tokens when the stack checks them
	TTL              time.Duration // lifetime of a minted token; 12 hours when zero
	Catalog          *authz.Catalog
	Log              *slog.Logger
}

type site struct {
	api      http.Handler
	settings http.Handler
	cfg      Config
	page     []byte
	script   []byte
}

// New serves the settings page under /settings/, the sign-in under
// /local/, and every other path from api, unchanged.
func New(api http.Handler, cfg Config) (http.Handler, error) {
	if cfg.TTL == 0 {
		cfg.TTL = 12 * time.Hour
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Catalog == nil {
		c, err := authz.Load()
		if err != nil {
			return nil, err
		}
		cfg.Catalog = c
	}
	settings, err := settingsui.Handler(cfg.Catalog)
	if err != nil {
		return nil, err
	}
	page, err := assets.ReadFile("assets/sign-in.html")
	if err != nil {
		return nil, err
	}
	script, err := assets.ReadFile("assets/sign-in.js")
	if err != nil {
		return nil, err
	}
	return &site{api: api, settings: settings, cfg: cfg, page: page, script: script}, nil
}

// ServeHTTP dispatches by path prefix; it does not clean or redirect paths,
// so the API sees every request exactly as the gateway would.
func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/settings" || strings.HasPrefix(p, "/settings/"):
		s.settings.ServeHTTP(w, r)
	case p == SignInPath || p == signInScript:
		s.signIn(w, r)
	default:
		s.api.ServeHTTP(w, r)
	}
}

func (s *site) signIn(w http.ResponseWriter, r *http.Request) {
	if s.cfg.SessionSecret == "" {
		http.Error(w, "The local sign-in is off: this stack verifies an identity provider's tokens "+
			"(SESSION_JWKS_URL). Paste one of its tokens into the settings page instead.", http.StatusNotFound)
		return
	}
	// A page of another site can reach 127.0.0.1 too, through a host name of
	// its own (DNS rebinding): only a loopback Host is served.
	if !loopbackHost(r.Host) {
		http.Error(w, "the local sign-in answers only on a loopback address", http.StatusForbidden)
		return
	}
	for k, v := range settingsui.SecurityHeaders {
		w.Header().Set(k, v)
	}
	switch {
	case r.URL.Path == signInScript && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		serve(w, r, "text/javascript; charset=utf-8", s.script)
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		serve(w, r, "text/html; charset=utf-8", s.page)
	case r.Method == http.MethodPost && r.URL.Path == SignInPath:
		s.mint(w, r)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func serve(w http.ResponseWriter, r *http.Request, contentType string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

func loopbackHost(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

type signInRequest struct {
	OrgID  string `json:"org_id"`
	UserID string `json:"user_id"`
	Role   string `json:"role"`
}

type signInResponse struct {
	Token     string `json:"token"`
	OrgID     string `json:"org_id"`
	UserID    string `json:"user_id"`
	Role      string `json:"role"`
	ExpiresAt string `json:"expires_at"`
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_.@:-]{1,64}$`)

var roles = []string{session.RoleOwner, session.RoleAdmin, session.RoleMember, session.RoleReadOnly}

// mint answers a JSON sign-in with a session token for the chosen
// organisation, user and role, as `make token` prints one.
func (s *site) mint(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	// JSON only: a cross-site form cannot send it without a CORS preflight,
	// which this server never grants.
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeError(w, &httpapi.Error{Status: http.StatusUnsupportedMediaType, Code: httpapi.CodeUnsupportedMedia,
			Message: "send the sign-in as application/json"})
		return
	}
	if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host {
		writeError(w, httpapi.Forbidden("the local sign-in takes requests from its own pages only"))
		return
	}
	var in signInRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 4<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeError(w, httpapi.Invalid("the body must be a JSON object with org_id, user_id and role"))
		return
	}
	in.OrgID, in.UserID = strings.TrimSpace(in.OrgID), strings.TrimSpace(in.UserID)
	var details []httpapi.Detail
	if !idPattern.MatchString(in.OrgID) {
		details = append(details, httpapi.Detail{Field: "org_id", Issue: "invalid"})
	}
	if !idPattern.MatchString(in.UserID) {
		details = append(details, httpapi.Detail{Field: "user_id", Issue: "invalid"})
	}
	if !slices.Contains(roles, in.Role) {
		details = append(details, httpapi.Detail{Field: "role", Issue: "invalid"})
	}
	if len(details) > 0 {
		writeError(w, httpapi.Invalid("organisation and user ids are 1 to 64 letters, digits or _ . @ : -, "+
			"and the role is owner, admin, member or read_only", details...))
		return
	}
	p := session.Principal{UserID: in.UserID, OrgID: in.OrgID, Role: in.Role}
	tok, err := localsession.IssueHS256(s.cfg.SessionSecret, p, s.cfg.TTL, s.cfg.Issuer, s.cfg.Audience)
	if err != nil {
		s.cfg.Log.Error("local sign-in failed", "error", err.Error())
		writeError(w, httpapi.AsError(err))
		return
	}
	// Never the token itself in a log.
	s.cfg.Log.Info("local sign-in", "org_id", p.OrgID, "user_id", p.UserID, "role", p.Role)
	writeJSON(w, http.StatusOK, signInResponse{Token: tok, OrgID: p.OrgID, UserID: p.UserID, Role: p.Role,
		ExpiresAt: time.Now().Add(s.cfg.TTL).UTC().Format(time.RFC3339)})
}

func writeError(w http.ResponseWriter, e *httpapi.Error) {
	writeJSON(w, e.Status, struct {
		Error     *httpapi.Error `json:"error"`
		RequestID string         `json:"request_id"`
	}{e, requestID()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"encode"},"request_id":""}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func requestID() string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "local"
	}
	return "local-" + hex.EncodeToString(b)
}
