package authz

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func mustLoad(t *testing.T) *Catalog {
	t.Helper()
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNormalizeScopes(t *testing.T) {
	c := mustLoad(t)
	tests := []struct {
		name    string
		in      []string
		want    []string
		wantErr error
	}{
		{"absent inherits", nil, []string{"*"}, nil},
		{"wildcard", []string{"*"}, []string{"*"}, nil},
		{"sorted and deduplicated", []string{"messages:send", "contacts:read", "messages:send"}, []string{"contacts:read", "messages:send"}, nil},
		{"empty refused", []string{}, nil, ErrInvalidScopes},
		{"wildcard mixed", []string{"*", "messages:send"}, nil, ErrInvalidScopes},
		{"unknown", []string{"messages:send", "messages:delete", "root"}, nil, ErrUnknownScopes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.NormalizeScopes(tt.in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
	_, err := c.NormalizeScopes([]string{"messages:delete", "root"})
	var ue *UnknownScopesError
	if !errors.As(err, &ue) || !slices.Equal(ue.Names, []string{"messages:delete", "root"}) {
		t.Fatalf("unknown scopes not named: %v", err)
	}
}

func TestEffective(t *testing.T) {
	c := mustLoad(t)
	if got := c.Effective([]string{"*"}, "hobby"); !slices.Equal(got, c.Plans["hobby"]) {
		t.Fatalf("wildcard on hobby = %v", got)
	}
	// analytics:read is not in hobby: it grants nothing there.
	if got := c.Effective([]string{"analytics:read", "messages:send"}, "hobby"); !slices.Equal(got, []string{"messages:send"}) {
		t.Fatalf("got %v", got)
	}
	if got := c.Effective([]string{"*"}, "no-such-plan"); len(got) != 0 {
		t.Fatalf("unknown plan granted %v", got)
	}
}

func TestMatch(t *testing.T) {
	c := mustLoad(t)
	tests := []struct {
		method, path string
		ok           bool
		scope        string
		auth         Auth
	}{
		{"GET", "/v1/whoami", true, "", AuthAPIKey},
		{"POST", "/v1/messages", true, "messages:send", AuthAPIKey},
		{"get", "/v1/messages/msg_1", true, "messages:read", AuthAPIKey},
		{"GET", "/v1/messages/", true, "messages:read", AuthAPIKey}, // API Gateway ignores one trailing slash
		{"GET", "/v1//messages", false, "", ""},
		{"DELETE", "/v1/messages", false, "", ""},
		{"GET", "/v1/unknown", false, "", ""},
		{"POST", "/v1/api-keys/key_1/revoke", true, "", AuthSession},
		{"GET", "/v1/contacts/c1/extra", false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r, _, ok := c.Match(tt.method, tt.path)
			if ok != tt.ok || r.Scope != tt.scope || r.Auth != tt.auth {
				t.Fatalf("Match = %+v, %v", r, ok)
			}
		})
	}
}

func TestParseRejectsBadConfig(t *testing.T) {
	tests := []struct{ name, in string }{
		{"plan with unknown scope", `{"scopes":{"a:b":"x"},"plans":{"p":["c:d"]},"routes":[]}`},
		{"route with unknown scope", `{"scopes":{"a:b":"x"},"plans":{},"routes":[{"method":"GET","path":"/x","auth":"api_key","scope":"c:d"}]}`},
		{"bad auth", `{"scopes":{"a:b":"x"},"plans":{},"routes":[{"method":"GET","path":"/x","auth":"none"}]}`},
		{"session without roles", `{"scopes":{"a:b":"x"},"plans":{},"routes":[{"method":"GET","path":"/x","auth":"session"}]}`},
		{"session with a misspelt role", `{"scopes":{"a:b":"x"},"plans":{},"routes":[{"method":"GET","path":"/x","auth":"session","roles":["owner","admins"]}]}`},
		{"session with a role in another case", `{"scopes":{"a:b":"x"},"plans":{},"routes":[{"method":"GET","path":"/x","auth":"session","roles":["Owner"]}]}`},
		{"unknown field", `{"scopes":{"a:b":"x"},"plan":{}}`},
		{"duplicate route", `{"scopes":{"a:b":"x"},"routes":[{"method":"GET","path":"/x","auth":"api_key"},{"method":"get","path":"/x","auth":"api_key"}]}`},
		{"same shape, other parameter name", routes(`/v1/x/{id}`, `/v1/x/{other}`)},
		{"crossing parameters", routes(`/v1/y/{p}/c`, `/v1/y/b/{q}`)},
		{"two greedy tails", routes(`/v1/{a+}`, `/v1/{b+}`)},
		{"greedy parameter not last", routes(`/v1/{a+}/x`)},
		{"partial-segment parameter", routes(`/v1/key_{id}`)},
		{"parameter named twice", routes(`/v1/{id}/x/{id}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse([]byte(tt.in)); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// routes is a catalog whose GET routes have these paths.
func routes(paths ...string) string {
	var rs []string
	for _, p := range paths {
		rs = append(rs, `{"method":"GET","path":"`+p+`","auth":"api_key"}`)
	}
	return `{"scopes":{"a:b":"x"},"routes":[` + strings.Join(rs, ",") + `]}`
}

func TestParseAcceptsNestedPatterns(t *testing.T) {
	tests := []struct {
		name  string
		paths []string
		path  string // a request path and the pattern that must win it
		want  string
	}{
		{"literal beats parameter", []string{"/v1/x/{id}", "/v1/x/me"}, "/v1/x/me", "/v1/x/me"},
		{"parameter beats greedy", []string{"/v1/{proxy+}", "/v1/{id}"}, "/v1/k", "/v1/{id}"},
		{"greedy keeps the rest", []string{"/v1/{proxy+}", "/v1/{id}"}, "/v1/k/l", "/v1/{proxy+}"},
		{"other methods or lengths never clash", []string{"/v1/y/{p}/c", "/v1/y/b"}, "/v1/y/b", "/v1/y/b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(routes(tt.paths...)))
			if err != nil {
				t.Fatal(err)
			}
			if r, _, ok := c.Match("GET", tt.path); !ok || r.Path != tt.want {
				t.Fatalf("Match(%s) = %s %v, want %s", tt.path, r.Path, ok, tt.want)
			}
		})
	}
}

// API Gateway has resolved the route: the stage and any base path mapping
// are not part of the resource, and parameters are named as the template
// names them.
func TestResolve(t *testing.T) {
	c := mustLoad(t)
	tests := []struct {
		name, method, resource string
		params                 map[string]string
		want                   string
		channel                string
		ok                     bool
	}{
		{"literal resource", "GET", "/v1/whoami", nil, "/v1/whoami", "", true},
		{"parameter named otherwise in the template", "POST", "/v1/channels/{ch}/messages", map[string]string{"ch": "ch_1"},
			"/v1/channels/{channel_id}/messages", "ch_1", true},
		{"greedy proxy, matched by what it carries", "GET", "/{proxy+}", map[string]string{"proxy": "v1/contacts/c_1"},
			"/v1/contacts/{id}", "", true},
		{"greedy proxy without its parameter", "GET", "/{proxy+}", nil, "", "", false},
		{"resource not in the map", "GET", "/v1/secrets", nil, "", "", false},
		{"method not in the map", "PUT", "/v1/whoami", nil, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, params, ok := c.Resolve(tt.method, tt.resource, tt.params)
			if ok != tt.ok || r.Path != tt.want || params[ChannelParam] != tt.channel {
				t.Fatalf("Resolve = %s %v %v, want %s %q %v", r.Path, params, ok, tt.want, tt.channel, tt.ok)
			}
		})
	}
}

func TestRouteParam(t *testing.T) {
	c := mustLoad(t)
	r, params, ok := c.Match("POST", "/v1/channels/ch_7/messages")
	if !ok || params[ChannelParam] != "ch_7" {
		t.Fatalf("route %+v params %v ok=%v", r, params, ok)
	}
	_, params, _ = c.Match("POST", "/v1/messages")
	if params[ChannelParam] != "" {
		t.Fatal("a path without a channel names one")
	}
}

func TestMatchPath(t *testing.T) {
	tests := []struct {
		pattern, path string
		ok            bool
		score         int
		params        string
	}{
		{"/v1/api-keys/{id}", "/v1/api-keys/key_1", true, 5, "id=key_1"},
		{"/v1/api-keys/{id}", "/v1/api-keys/", false, 0, ""},
		{"/v1/api-keys/{id}", "/v1/api-keys/a/b", false, 0, ""},
		{"/v1/{proxy+}", "/v1/a/b/c", true, 2, "proxy=a/b/c"},
		{"/v1/{proxy+}", "/v1", false, 0, ""},
		{"/v1/whoami", "/v1/whoami/", true, 5, ""},
		{"/v1/whoami", "/v1//whoami", false, 0, ""},
	}
	for _, tt := range tests {
		params, score, ok := MatchPath(tt.pattern, tt.path)
		var got []string
		for k, v := range params {
			got = append(got, k+"="+v)
		}
		if ok != tt.ok || score != tt.score || strings.Join(got, ",") != tt.params {
			t.Errorf("MatchPath(%q, %q) = %v %d %v", tt.pattern, tt.path, params, score, ok)
		}
	}
}
