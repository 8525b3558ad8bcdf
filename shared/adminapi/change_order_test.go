package adminapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/flowella/apikeys/shared/keystore"
)

// A key's changes are dated in the order they were made, even when the
// function making one has a clock behind the one that made the last: the
// audit log, sorted by that date, keeps their order.
func TestChangesNeverPredateTheKeysLastChange(t *testing.T) {
	a := newAPI(t)
	admin := sessionOf("org_a", "u_a", "admin")
	id, _ := a.createKey(admin, map[string]any{"label": "ordered", "scopes": []string{"messages:send"}})
	created, err := a.store.Get(context.Background(), "org_a", id)
	if err != nil || created.LastChange == nil {
		t.Fatalf("created key %+v, %v", created, err)
	}
	// Another function's clock, an hour behind the one that created the key.
	behind := created.LastChange.At.Time().Add(-time.Hour)
	a.h.Now = func() time.Time { return behind }

	last := created.LastChange.At
	for _, step := range []struct {
		method, path string
		body         any
	}{
		{"PATCH", "/v1/api-keys/" + id, map[string]any{"label": "relabelled"}},
		{"POST", "/v1/api-keys/" + id + "/revoke", map[string]any{}},
	} {
		if r := a.do(step.method, step.path, admin, step.body); r.Status != 200 {
			t.Fatalf("%s %s: %d %s", step.method, step.path, r.Status, r.Raw)
		}
		k, err := a.store.Get(context.Background(), "org_a", id)
		if err != nil {
			t.Fatal(err)
		}
		if k.LastChange.At <= last {
			t.Fatalf("%s %s dated %s, not after the change before it (%s)", step.method, step.path, k.LastChange.At, last)
		}
		last = k.LastChange.At
		if k.Status == keystore.StatusRevoked && k.RevokedAt != last {
			t.Fatalf("revoked_at %s, last change %s", k.RevokedAt, last)
		}
	}
}
