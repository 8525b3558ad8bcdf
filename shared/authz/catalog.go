// Package authz holds scopes, plans and the route map: which scope (or which
// session role) each API route needs. It is loaded from configuration data.
package authz

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/flowella/apikeys/config"
	"github.com/flowella/apikeys/shared/principal"
)

// Wildcard as a key's only scope means "whatever the organisation's plan grants".
const Wildcard = "*"

// Auth says which kind of credential a route takes.
type Auth string

const (
	AuthAPIKey  Auth = "api_key"
	AuthSession Auth = "session"
)

// Route is one entry of the route map.
type Route struct {
	Method string   `json:"method"`
	Path   string   `json:"path"`
	Auth   Auth     `json:"auth"`
	Scope  string   `json:"scope,omitempty"`
	Roles  []string `json:"roles,omitempty"`
}

// Catalog is the scope catalog, the plans and the route map.
type Catalog struct {
	Scopes map[string]string   `json:"scopes"`
	Plans  map[string][]string `json:"plans"`
	Routes []Route             `json:"routes"`

	// byShape finds a route by method and pattern shape ("GET /v1/x/{}"),
	// built once by Parse: Resolve runs on every authorizer decision.
	byShape map[string]int
}

// ErrUnknownScopes is matched by errors.Is for a scope list naming scopes
// that are not in the catalog; the error's Names lists them.
var ErrUnknownScopes = errors.New("unknown scopes")

// UnknownScopesError names the scopes that are not in the catalog.
type UnknownScopesError struct{ Names []string }

func (e *UnknownScopesError) Error() string {
	return "unknown scopes: " + strings.Join(e.Names, ", ")
}
func (e *UnknownScopesError) Is(target error) bool { return target == ErrUnknownScopes }

// ErrInvalidScopes is returned for a scope list that is malformed rather than unknown.
var ErrInvalidScopes = errors.New("invalid scopes")

// Load reads the file named by AUTHZ_CONFIG_FILE, or the embedded default.
func Load() (*Catalog, error) { return LoadFile(os.Getenv("AUTHZ_CONFIG_FILE")) }

// LoadFile reads the catalog at path, or the embedded default when path is "".
func LoadFile(path string) (*Catalog, error) {
	data := config.AuthzJSON
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("load authz config: %w", err)
		}
		data = b
	}
	return Parse(data)
}

// Parse decodes and checks a catalog: every plan and route names known scopes,
// every route has a method, a path and a valid auth kind.
func Parse(data []byte) (*Catalog, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Catalog
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("parse authz config: %w", err)
	}
	if len(c.Scopes) == 0 {
		return nil, errors.New("parse authz config: no scopes")
	}
	for plan, scopes := range c.Plans {
		for _, s := range scopes {
			if _, ok := c.Scopes[s]; !ok {
				return nil, fmt.Errorf("parse authz config: plan %s names unknown scope %q", plan, s)
			}
		}
	}
	seen := map[string]bool{}
	for i := range c.Routes {
		r := &c.Routes[i]
		r.Method = strings.ToUpper(r.Method)
		if r.Method == "" || !strings.HasPrefix(r.Path, "/") {
			return nil, fmt.Errorf("parse authz config: route %d needs a method and a path starting with /", i)
		}
		switch r.Auth {
		case AuthAPIKey:
			if r.Scope != "" {
				if _, ok := c.Scopes[r.Scope]; !ok {
					return nil, fmt.Errorf("parse authz config: route %s %s names unknown scope %q", r.Method, r.Path, r.Scope)
				}
			}
		case AuthSession:
			if len(r.Roles) == 0 {
				return nil, fmt.Errorf("parse authz config: session route %s %s lists no roles", r.Method, r.Path)
			}
			for _, role := range r.Roles {
				// A misspelt role would lock out those it meant, found only
				// when they are refused.
				if !principal.KnownRole(role) {
					return nil, fmt.Errorf("parse authz config: session route %s %s names unknown role %q", r.Method, r.Path, role)
				}
			}
		default:
			return nil, fmt.Errorf("parse authz config: route %s %s: auth must be api_key or session", r.Method, r.Path)
		}
		id := r.Method + " " + r.Path
		if seen[id] {
			return nil, fmt.Errorf("parse authz config: route %s listed twice", id)
		}
		seen[id] = true
	}
	if err := c.checkAmbiguity(); err != nil {
		return nil, fmt.Errorf("parse authz config: %w", err)
	}
	// checkAmbiguity leaves at most one route per method and shape.
	c.byShape = make(map[string]int, len(c.Routes))
	for i, r := range c.Routes {
		c.byShape[r.Method+" "+patternShape(r.Path)] = i
	}
	return &c, nil
}

// checkAmbiguity refuses two routes of one method that some path matches
// with neither more specific than the other (as net/http's ServeMux refuses
// conflicting patterns): file order must never pick the scope a request needs.
func (c *Catalog) checkAmbiguity() error {
	for i, a := range c.Routes {
		pa := splitPath(a.Path)
		if err := checkPattern(pa); err != nil {
			return fmt.Errorf("route %s %s: %w", a.Method, a.Path, err)
		}
		for _, b := range c.Routes[:i] {
			pb := splitPath(b.Path)
			if a.Method != b.Method || !overlap(pa, pb) {
				continue
			}
			if within(pa, pb) == within(pb, pa) {
				return fmt.Errorf("routes %s %s and %s %s are ambiguous: a path can match both and neither is more specific",
					b.Method, b.Path, a.Method, a.Path)
			}
		}
	}
	return nil
}

// checkPattern allows a greedy {name+} only as the last segment and
// parameters only as whole segments.
func checkPattern(segs []string) error {
	names := map[string]bool{}
	for i, s := range segs {
		if isParam(s) {
			name := strings.TrimSuffix(strings.Trim(s, "{}"), "+")
			if names[name] {
				return fmt.Errorf("parameter {%s} appears twice", name)
			}
			names[name] = true
		}
		open, close := strings.Contains(s, "{"), strings.Contains(s, "}")
		switch {
		case !open && !close:
		case !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") || !validParamName(strings.TrimSuffix(s[1:len(s)-1], "+")):
			return fmt.Errorf("segment %q: a parameter must be a whole segment {name}, the name letters, digits and _", s)
		case strings.HasSuffix(s, "+}") && i != len(segs)-1:
			return fmt.Errorf("segment %q: a greedy parameter must be the last segment", s)
		}
	}
	return nil
}

func validParamName(n string) bool {
	return n != "" && strings.Trim(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == ""
}

func isParam(seg string) bool  { return strings.HasPrefix(seg, "{") }
func isGreedy(seg string) bool { return strings.HasSuffix(seg, "+}") }

// overlap reports whether some path matches both patterns.
func overlap(a, b []string) bool {
	for i := 0; ; i++ {
		switch {
		case i < len(a) && isGreedy(a[i]):
			return i < len(b) // b has at least one more segment, or its own greedy tail
		case i < len(b) && isGreedy(b[i]):
			return i < len(a)
		case i == len(a) || i == len(b):
			return len(a) == len(b)
		case !isParam(a[i]) && !isParam(b[i]) && a[i] != b[i]:
			return false
		}
	}
}

// within reports whether every path that a matches, b matches too.
func within(a, b []string) bool {
	for i := 0; ; i++ {
		switch {
		case i < len(b) && isGreedy(b[i]):
			return i < len(a)
		case i < len(a) && isGreedy(a[i]):
			return false // a's tail is unbounded, b's is not
		case i == len(a) || i == len(b):
			return len(a) == len(b)
		case isParam(b[i]):
		case isParam(a[i]) || a[i] != b[i]:
			return false
		}
	}
}

// Resolve finds the route for a request whose route API Gateway has already
// resolved: resource is the template's path pattern (REST's resource, the
// path of an HTTP API's routeKey) and params its path parameters, so stages
// and base path mappings play no part. A resource the map does not list
// (a greedy proxy, say) is matched as the path its parameters fill in.
func (c *Catalog) Resolve(method, resource string, params map[string]string) (Route, map[string]string, bool) {
	method = strings.ToUpper(method)
	if r, ok := c.byShapeOf(method, patternShape(resource)); ok {
		// Parameters named as the route map names them.
		out := map[string]string{}
		resSegs := splitPath(resource)
		for i, seg := range splitPath(r.Path) {
			if isParam(seg) {
				out[strings.TrimSuffix(strings.Trim(seg, "{}"), "+")] = params[paramName(resSegs, i)]
			}
		}
		return r, out, true
	}
	var b strings.Builder
	for _, seg := range splitPath(resource) {
		b.WriteByte('/')
		if isParam(seg) {
			v, ok := params[strings.TrimSuffix(strings.Trim(seg, "{}"), "+")]
			if !ok || v == "" {
				return Route{}, nil, false
			}
			seg = v
		}
		b.WriteString(seg)
	}
	return c.Match(method, b.String())
}

// byShapeOf finds the route of method whose pattern has shape: through the
// index Parse builds, or by a scan for a catalog built otherwise.
func (c *Catalog) byShapeOf(method, shape string) (Route, bool) {
	if c.byShape != nil {
		i, ok := c.byShape[method+" "+shape]
		if !ok {
			return Route{}, false
		}
		return c.Routes[i], true
	}
	for _, r := range c.Routes {
		if r.Method == method && patternShape(r.Path) == shape {
			return r, true
		}
	}
	return Route{}, false
}

// patternShape names every parameter alike, so patterns compare by shape.
func patternShape(p string) string {
	segs := splitPath(p)
	for i, s := range segs {
		if isGreedy(s) {
			segs[i] = "{+}"
		} else if isParam(s) {
			segs[i] = "{}"
		}
	}
	return "/" + strings.Join(segs, "/")
}

func paramName(segs []string, i int) string {
	if i >= len(segs) {
		return ""
	}
	return strings.TrimSuffix(strings.Trim(segs[i], "{}"), "+")
}

// NormalizeScopes checks a requested scope list and returns it sorted and
// de-duplicated. nil means "inherit the plan" and yields [*]. An empty list is
// refused: it would otherwise read as "everything the plan grants".
func (c *Catalog) NormalizeScopes(scopes []string) ([]string, error) {
	if scopes == nil {
		return []string{Wildcard}, nil
	}
	if len(scopes) == 0 {
		return nil, fmt.Errorf(`%w: scopes must not be empty; omit the field or send ["*"] to inherit the organisation's plan`, ErrInvalidScopes)
	}
	if len(scopes) > len(c.Scopes)+1 {
		return nil, fmt.Errorf("%w: at most %d scopes", ErrInvalidScopes, len(c.Scopes))
	}
	var unknown []string
	set := map[string]bool{}
	for _, s := range scopes {
		if s == Wildcard {
			set[s] = true
			continue
		}
		if _, ok := c.Scopes[s]; !ok {
			if len(s) > 64 {
				s = s[:64] + "…"
			}
			unknown = append(unknown, s)
			continue
		}
		set[s] = true
	}
	if len(unknown) > 0 {
		return nil, &UnknownScopesError{Names: unknown}
	}
	if set[Wildcard] {
		if len(set) > 1 {
			return nil, fmt.Errorf(`%w: "*" inherits the whole plan and cannot be combined with other scopes`, ErrInvalidScopes)
		}
		return []string{Wildcard}, nil
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out, nil
}

// Effective is what a key with keyScopes can use under plan right now: the
// whole plan for [*], otherwise the key's scopes that the plan also grants.
func (c *Catalog) Effective(keyScopes []string, plan string) []string {
	granted := c.Plans[plan]
	if slices.Equal(keyScopes, []string{Wildcard}) {
		return slices.Clone(granted)
	}
	var out []string
	for _, s := range keyScopes {
		if slices.Contains(granted, s) {
			out = append(out, s)
		}
	}
	return out
}

// Match finds the route for method and path, with the path's parameters.
// Where several patterns match, the one with more literal segments wins.
func (c *Catalog) Match(method, path string) (Route, map[string]string, bool) {
	method = strings.ToUpper(method)
	var best Route
	var bestParams map[string]string
	bestScore := -1
	for _, r := range c.Routes {
		if r.Method != method {
			continue
		}
		if params, score, ok := MatchPath(r.Path, path); ok && score > bestScore {
			best, bestParams, bestScore = r, params, score
		}
	}
	return best, bestParams, bestScore >= 0
}

// MatchPath matches path against an API Gateway style pattern: literal
// segments, {name} (one non-empty segment) and a final {name+} (the rest).
// It returns the parameters and a specificity score (more literal segments
// score higher; at equal literals, a fixed-length pattern beats a greedy
// one), so that callers can prefer the most specific pattern. One trailing slash is
// ignored, as API Gateway does.
func MatchPath(pattern, path string) (map[string]string, int, bool) {
	pat, segs := splitPath(pattern), splitPath(path)
	params := map[string]string{}
	score := 0
	for i, p := range pat {
		name, isParam := strings.CutPrefix(p, "{")
		name, _ = strings.CutSuffix(name, "}")
		if greedy, ok := strings.CutSuffix(name, "+"); isParam && ok {
			if i >= len(segs) {
				return nil, 0, false
			}
			params[greedy] = strings.Join(segs[i:], "/")
			return params, 2 * score, true
		}
		if i >= len(segs) {
			return nil, 0, false
		}
		switch {
		case isParam:
			if segs[i] == "" {
				return nil, 0, false
			}
			params[name] = segs[i]
		case p != segs[i]:
			return nil, 0, false
		default:
			score++
		}
	}
	if len(pat) != len(segs) {
		return nil, 0, false
	}
	return params, 2*score + 1, true
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// ChannelParam is the path parameter that names a WhatsApp channel; keys
// limited to channels may only use paths whose value is one of theirs.
const ChannelParam = "channel_id"

// AllowsRole reports whether a session with role may use r.
func (r Route) AllowsRole(role string) bool { return slices.Contains(r.Roles, role) }

// NotGranted is the part of keyScopes that plan does not grant, in order:
// scopes a key holds but cannot use until its organisation's plan does.
// [*] is never short of anything.
func (c *Catalog) NotGranted(keyScopes []string, plan string) []string {
	var out []string
	for _, s := range keyScopes {
		if s != Wildcard && !slices.Contains(c.Plans[plan], s) {
			out = append(out, s)
		}
	}
	return out
}
