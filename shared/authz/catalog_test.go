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
		{"unknown field", `{"scopes":{"a:b":"x"},"plan":{}}`},
		{"duplicate route", `{"scopes":{"a:b":"x"},"routes":[{"method":"GET","path":"/x","auth":"api_key"},{"method":"get","path":"/x","auth":"api_key"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse([]byte(tt.in)); err == nil {
				t.Fatal("accepted")
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
		{"/v1/api-keys/{id}", "/v1/api-keys/key_1", true, 2, "id=key_1"},
		{"/v1/api-keys/{id}", "/v1/api-keys/", false, 0, ""},
		{"/v1/api-keys/{id}", "/v1/api-keys/a/b", false, 0, ""},
		{"/v1/{proxy+}", "/v1/a/b/c", true, 1, "proxy=a/b/c"},
		{"/v1/{proxy+}", "/v1", false, 0, ""},
		{"/v1/whoami", "/v1/whoami/", true, 2, ""},
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
