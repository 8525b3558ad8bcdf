package adminapi_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
)

// planWarning is the scopes_not_in_plan warning of a key response, or nil;
// it fails the test when the response has no warnings array.
func planWarning(t *testing.T, r apiResponse) map[string]any {
	t.Helper()
	ws, ok := r.Body["warnings"].([]any)
	if !ok {
		t.Fatalf("no warnings array: %s", r.Raw)
	}
	for _, w := range ws {
		if m := w.(map[string]any); m["code"] == "scopes_not_in_plan" {
			return m
		}
	}
	return nil
}

func scopesOf(w map[string]any) []string {
	var out []string
	for _, s := range w["scopes"].([]any) {
		out = append(out, s.(string))
	}
	return out
}

// Issue 13, defect 3: a key with scopes outside its organisation's plan is
// still made (a plan upgrade makes them work), and the create, PATCH and
// GET answers say which scopes the plan does not grant.
func TestScopesOutsideThePlanAreWarnedOf(t *testing.T) {
	a := newAPI(t)
	hobby := sessionOf("org_b", "u_b", "admin") // org_b is on hobby: no analytics:read, no webhooks:manage

	r := a.do("POST", "/v1/api-keys", hobby, map[string]any{"label": "reports",
		"scopes": []string{"messages:send", "analytics:read", "webhooks:manage"}})
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Raw)
	}
	id := r.Body["id"].(string)
	w := planWarning(t, r)
	if w == nil || !slices.Equal(scopesOf(w), []string{"analytics:read", "webhooks:manage"}) {
		t.Fatalf("create warnings: %s", r.Raw)
	}
	if got := r.Body["scopes"].([]any); len(got) != 3 {
		t.Fatalf("the scopes were not all kept: %s", r.Raw)
	}

	r = a.do("GET", "/v1/api-keys/"+id, hobby, nil)
	if w := planWarning(t, r); r.Status != http.StatusOK || w == nil || !slices.Equal(scopesOf(w), []string{"analytics:read", "webhooks:manage"}) {
		t.Fatalf("get: %d %s", r.Status, r.Raw)
	}

	r = a.do("PATCH", "/v1/api-keys/"+id, hobby, map[string]any{"scopes": []string{"analytics:read"}})
	if w := planWarning(t, r); r.Status != http.StatusOK || w == nil || !slices.Equal(scopesOf(w), []string{"analytics:read"}) {
		t.Fatalf("patch to another scope outside the plan: %d %s", r.Status, r.Raw)
	}
	r = a.do("PATCH", "/v1/api-keys/"+id, hobby, map[string]any{"scopes": []string{"messages:send"}})
	if r.Status != http.StatusOK || planWarning(t, r) != nil {
		t.Fatalf("patch back inside the plan: %d %s", r.Status, r.Raw)
	}
	r = a.do("PATCH", "/v1/api-keys/"+id, hobby, map[string]any{"scopes": []string{"analytics:read"}, "label": "reports"})
	if r.Status != http.StatusOK || planWarning(t, r) == nil {
		t.Fatalf("patch outside again: %d %s", r.Status, r.Raw)
	}

	// The plan upgraded, the same key is warned of nothing.
	if err := a.store.SetOrg(context.Background(), "org_b", "paid", nil); err != nil {
		t.Fatal(err)
	}
	r = a.do("GET", "/v1/api-keys/"+id, hobby, nil)
	if r.Status != http.StatusOK || planWarning(t, r) != nil {
		t.Fatalf("get after the upgrade: %d %s", r.Status, r.Raw)
	}

	// Inside the plan, and "*": an empty warnings array.
	for _, scopes := range [][]string{{"messages:send"}, {"*"}} {
		r = a.do("POST", "/v1/api-keys", sessionOf("org_c", "u_c", "owner"), map[string]any{"label": "ok", "scopes": scopes})
		if r.Status != http.StatusCreated || len(r.Body["warnings"].([]any)) != 0 {
			t.Fatalf("create with %v on hobby: %d %s", scopes, r.Status, r.Raw)
		}
	}
}

// A roll's new key and a list's items say what a GET of the key says: the
// scopes the organisation's plan does not grant.
func TestRollAndListWarnOfScopesOutsideThePlan(t *testing.T) {
	a := newAPI(t)
	hobby := sessionOf("org_b", "u_b", "admin") // org_b is on hobby: no analytics:read
	outside, _ := a.createKey(hobby, map[string]any{"label": "reports", "scopes": []string{"messages:send", "analytics:read"}})
	inside, _ := a.createKey(hobby, map[string]any{"label": "sender", "scopes": []string{"messages:send"}})

	r := a.do("GET", "/v1/api-keys", hobby, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("list: %d %s", r.Status, r.Raw)
	}
	warned := map[string][]string{}
	for _, it := range r.Body["items"].([]any) {
		item := apiResponse{Body: it.(map[string]any), Raw: r.Raw}
		if w := planWarning(t, item); w != nil {
			warned[item.Body["id"].(string)] = scopesOf(w)
		}
	}
	if len(warned) != 1 || !slices.Equal(warned[outside], []string{"analytics:read"}) || warned[inside] != nil {
		t.Fatalf("list warnings %v, want only %s: [analytics:read]: %s", warned, outside, r.Raw)
	}

	r = a.do("POST", "/v1/api-keys/"+outside+"/roll", hobby, nil)
	if w := planWarning(t, r); r.Status != http.StatusCreated || w == nil || !slices.Equal(scopesOf(w), []string{"analytics:read"}) {
		t.Fatalf("roll: %d %s", r.Status, r.Raw)
	}
	r = a.do("POST", "/v1/api-keys/"+inside+"/roll", hobby, nil)
	if r.Status != http.StatusCreated || planWarning(t, r) != nil {
		t.Fatalf("roll of a key inside the plan: %d %s", r.Status, r.Raw)
	}
}
