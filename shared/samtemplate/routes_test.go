package samtemplate

import (
	"strings"
	"testing"

	"github.com/flowella/apikeys/shared/authz"
)

// Every route the template guards with the authorizer is one entry of the
// route map, found from the resource API Gateway resolves, so the decision
// in AWS never depends on how the request path looked.
func TestEveryGuardedRouteResolvesToOneRouteMapEntry(t *testing.T) {
	tpl, err := Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	catalog, err := authz.Load()
	if err != nil {
		t.Fatal(err)
	}
	routes, err := tpl.APIRoutes()
	if err != nil {
		t.Fatal(err)
	}
	guarded := 0
	for _, r := range routes {
		if r.Authorizer == "" {
			continue
		}
		guarded++
		params := map[string]string{}
		for _, seg := range strings.Split(r.Path, "/") {
			if name, ok := strings.CutPrefix(seg, "{"); ok {
				params[strings.TrimSuffix(strings.TrimSuffix(name, "}"), "+")] = "x"
			}
		}
		got, _, ok := catalog.Resolve(r.Method, r.Path, params)
		if !ok {
			t.Errorf("%s %s (%s) is not in the route map: the authorizer would refuse every request", r.Method, r.Path, r.Function)
			continue
		}
		same := 0
		for _, m := range catalog.Routes {
			if m.Method == got.Method && shape(m.Path) == shape(r.Path) {
				same++
			}
		}
		if same != 1 || shape(got.Path) != shape(r.Path) {
			t.Errorf("%s %s resolves to %s %s (%d entries of its shape), want exactly its own entry", r.Method, r.Path, got.Method, got.Path, same)
		}
	}
	if guarded == 0 {
		t.Fatal("the template guards no route")
	}
}

func shape(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") {
			segs[i] = "{}"
		}
	}
	return strings.Join(segs, "/")
}
