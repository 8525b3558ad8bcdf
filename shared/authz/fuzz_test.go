package authz

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// A match fills the pattern's parameters with non-empty values that rebuild
// the path; nothing panics.
func FuzzMatchPath(f *testing.F) {
	for _, s := range [][2]string{
		{"/v1/api-keys/{id}", "/v1/api-keys/key_1"},
		{"/v1/{proxy+}", "/v1/a/b/c"},
		{"/v1/channels/{channel_id}/messages", "/v1/channels/ch_1/messages/"},
		{"/v1/whoami", "//v1/whoami"},
		{"/{a}/{b}", "/%2F/x"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, path string) {
		if checkPattern(splitPath(pattern)) != nil {
			return // the route map refuses it when loading
		}
		params, _, ok := MatchPath(pattern, path)
		if !ok {
			return
		}
		var rebuilt []string
		for _, seg := range splitPath(pattern) {
			if isParam(seg) {
				v := params[strings.TrimSuffix(strings.Trim(seg, "{}"), "+")]
				if v == "" {
					t.Fatalf("MatchPath(%q, %q): empty parameter in %v", pattern, path, params)
				}
				seg = v
			}
			rebuilt = append(rebuilt, seg)
		}
		if got, want := strings.Join(rebuilt, "/"), strings.Trim(path, "/"); got != want {
			t.Fatalf("MatchPath(%q, %q) = %v, which rebuilds %q", pattern, path, params, got)
		}
	})
}

// A route map that loads never lets file order pick a route: the same
// routes in reverse order match every path the same way.
func FuzzRouteMapOrder(f *testing.F) {
	f.Add("/v1/x/{id}", "/v1/x/me", "/v1/{proxy+}", "/v1/x/me")
	f.Add("/v1/y/{p}/c", "/v1/y/b/{q}", "/v1/y/{r}", "/v1/y/b/c")
	f.Add("/a/{b}", "/a/{c+}", "/{d}/e", "/a/e")
	f.Fuzz(func(t *testing.T, p1, p2, p3, path string) {
		doc := func(paths ...string) []byte {
			type route struct {
				Method string `json:"method"`
				Path   string `json:"path"`
				Auth   string `json:"auth"`
			}
			var rs []route
			for _, p := range paths {
				rs = append(rs, route{"GET", p, "api_key"})
			}
			b, _ := json.Marshal(map[string]any{"scopes": map[string]string{"a:b": "x"}, "routes": rs})
			return b
		}
		fwd, err := Parse(doc(p1, p2, p3))
		if err != nil {
			return
		}
		rev, err := Parse(doc(p3, p2, p1))
		if err != nil {
			t.Fatalf("accepted in one order, refused in the other: %v", err)
		}
		a, pa, oka := fwd.Match("GET", path)
		b, pb, okb := rev.Match("GET", path)
		if oka != okb || a.Path != b.Path || !mapsEqual(pa, pb) {
			t.Fatalf("%q matched %q %v in one order and %q %v in the other", path, a.Path, pa, b.Path, pb)
		}
	})
}

func mapsEqual(a, b map[string]string) bool {
	ka, kb := make([]string, 0, len(a)), make([]string, 0, len(b))
	for k := range a {
		ka = append(ka, k+"="+a[k])
	}
	for k := range b {
		kb = append(kb, k+"="+b[k])
	}
	slices.Sort(ka)
	slices.Sort(kb)
	return slices.Equal(ka, kb)
}
