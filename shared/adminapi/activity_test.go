package adminapi_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/flowella/apikeys/shared/keystore"
)

// GET /v1/api-keys/{id}/activity, /usage and /exposure: 200 for a key with
// no activity yet, 400 for each bad query, 404 for a key not found (below;
// another organisation's key in get_test.go); 401, 403, 503 in
// status_test.go. What they return for real traffic is tested through the
// pipeline that records it, in local/localstack.

// Query parameters are checked before anything is read.
func TestKeyActivityRefusesBadQueries(t *testing.T) {
	a := newAPI(t)
	admin := sessionOf("org_a", "u_admin", "admin")
	id, _ := a.createKey(admin, map[string]any{"label": "k"})
	for _, q := range []string{
		"activity?status=4x", "activity?status=600", "activity?outcome=maybe", "activity?limit=0", "activity?cursor=abc",
		"activity?since=yesterday", "activity?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", "activity?key_id=" + id,
		"usage?granularity=minute", "usage?since=2020-01-01T00:00:00Z&until=2026-01-01T00:00:00Z", "exposure?limit=5",
	} {
		if r := a.do("GET", "/v1/api-keys/"+id+"/"+q, admin, nil); r.Status != http.StatusBadRequest || r.code() != "validation_failed" {
			t.Errorf("%s: %d %s", q, r.Status, r.Raw)
		}
	}
	// A new key has no activity yet: empty, not an error.
	if r := a.do("GET", "/v1/api-keys/"+id+"/activity", admin, nil); r.Status != 200 || fmt.Sprint(r.Body["items"]) != "[]" {
		t.Fatalf("empty activity: %d %s", r.Status, r.Raw)
	}
	if r := a.do("GET", "/v1/api-keys/"+id+"/usage?granularity=hour&since=2026-01-01T10:30:00Z&until=2026-01-01T11:10:00Z", admin, nil); r.Status != 200 ||
		r.Body["since"] != "2026-01-01T10:00:00.000Z" || r.Body["until"] != "2026-01-01T12:00:00.000Z" || r.Body["totals"].(map[string]any)["requests"] != 0.0 {
		t.Fatalf("usage window widened to whole hours: %d %s", r.Status, r.Raw)
	}
	if r := a.do("GET", "/v1/api-keys/"+id+"/exposure", admin, nil); r.Status != 200 {
		t.Fatalf("empty exposure: %d %s", r.Status, r.Raw)
	}
}

func TestKeyActivity404(t *testing.T) {
	a := newAPI(t)
	admin := sessionOf("org_a", "u_admin", "admin")
	for _, path := range []string{"activity", "usage", "exposure"} {
		for _, id := range []string{keystore.NewID(), "nope"} {
			if r := a.do("GET", "/v1/api-keys/"+id+"/"+path, admin, nil); r.Status != http.StatusNotFound || r.code() != "not_found" {
				t.Fatalf("%s of %s: %d %s", path, id, r.Status, r.Raw)
			}
		}
	}
}
