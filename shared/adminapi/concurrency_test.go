package adminapi_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowella/apikeys/shared/adminapi"
	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/stamp"
)

// meanwhile is the key store with another admin's write slipped in right
// after the handler's read: the interleaving that a race produces now and
// then, made certain.
type meanwhile struct {
	*keystore.Store
	once  sync.Once
	write func(keystore.Key)
}

func (m *meanwhile) Get(ctx context.Context, orgID, id string) (keystore.Key, error) {
	k, err := m.Store.Get(ctx, orgID, id)
	if err == nil {
		m.once.Do(func() { m.write(k) })
	}
	return k, err
}

// patchMeanwhile makes h's next read be followed by a PATCH of allowed_ips.
func patchMeanwhile(t *testing.T, h *adminapi.Handlers, store *keystore.Store) {
	t.Helper()
	h.Store = &meanwhile{Store: store, write: func(k keystore.Key) {
		ips := []string{"10.0.0.0/8"}
		c := keystore.Change{Op: keystore.OpUpdate, At: stamp.Of(time.Now()), Actor: keystore.Actor{UserID: "u_other"}}
		if _, err := store.UpdateAt(context.Background(), k, keystore.Changes{AllowedIPs: &ips, Scopes: []string{"messages:read"}}, c); err != nil {
			t.Errorf("the concurrent PATCH: %v", err)
		}
	}}
}

// Issue 8: roll, PATCH and revoke act on the version they read. A key
// changed between the read and the write is a 409 conflict saying so (412
// when the request sent If-Match); nothing is done. Finding 1: the roll used
// to answer 201 with a successor that lacked the concurrent PATCH.
func TestKeyChangedMeanwhile(t *testing.T) {
	for _, tc := range []struct {
		name    string
		event   string
		body    string
		ifMatch bool
		status  int
		code    string
	}{
		{"roll", "roll-key", `{"grace_period_seconds":0}`, false, 409, "conflict"},
		{"roll with grace", "roll-key", `{"grace_period_seconds":3600}`, false, 409, "conflict"},
		{"patch", "update-key", `{"label":"mine"}`, false, 409, "conflict"},
		{"roll with If-Match", "roll-key", "", true, 412, "precondition_failed"},
		{"patch with If-Match", "update-key", `{"label":"mine"}`, true, 412, "precondition_failed"},
		{"revoke with If-Match", "revoke-key", "", true, 412, "precondition_failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHandlers(t)
			store := h.Store.(*keystore.Store)
			id, etag := createKey(t, h)
			patchMeanwhile(t, h, store)
			var ifMatch []string
			if tc.ifMatch {
				ifMatch = []string{etag}
			}
			var proxy adminapi.Proxy
			switch tc.event {
			case "roll-key":
				proxy = h.Roll()
			case "update-key":
				proxy = h.Update()
			default:
				proxy = h.Revoke()
			}
			resp, body := call(t, proxy, keyEvent(t, tc.event, id, tc.body, ifMatch...))
			msg, _ := body["error"].(map[string]any)["message"].(string)
			if resp.StatusCode != tc.status || errorCode(body) != tc.code || !strings.Contains(msg, "changed") {
				t.Fatalf("%d %v", resp.StatusCode, body)
			}
			// Nothing was done: the key is as the concurrent PATCH left it,
			// active, with no successor.
			k, err := store.Get(context.Background(), "org_demo", id)
			if err != nil || k.Status != keystore.StatusActive || k.RolledTo != "" || k.Label == "mine" ||
				len(k.AllowedIPs) != 1 || k.Version != 2 {
				t.Fatalf("key after the refused request: %+v %v", k, err)
			}
			if n := keyCount(t, h); n != 1 {
				t.Fatalf("%d keys, want 1", n)
			}
		})
	}
}

// A revoke without If-Match does not depend on what it read: a PATCH that
// lands between its read and its write must not make someone revoking a
// leaked key try again. It revokes the key as it now is.
func TestRevokeFollowsAConcurrentChange(t *testing.T) {
	h := newHandlers(t)
	store := h.Store.(*keystore.Store)
	id, _ := createKey(t, h)
	patchMeanwhile(t, h, store)
	resp, body := call(t, h.Revoke(), keyEvent(t, "revoke-key", id, `{"reason":"leaked"}`))
	if resp.StatusCode != 200 || body["status"] != "revoked" {
		t.Fatalf("%d %v", resp.StatusCode, body)
	}
	k, err := store.Get(context.Background(), "org_demo", id)
	if err != nil || k.Status != keystore.StatusRevoked || len(k.AllowedIPs) != 1 || k.Version != 3 {
		t.Fatalf("key after the revoke: %+v %v", k, err)
	}
}

// Issue 8, finding 5: grace_period_seconds was turned into a Duration before
// its range was checked, so 9223372037 wrapped round to a negative grace and
// a 201 with an expiry in 1734.
func TestRollGracePeriodRangeCheckedBeforeArithmetic(t *testing.T) {
	h := newHandlers(t)
	id, _ := createKey(t, h)
	for _, grace := range []string{"9223372037", "9223372036854775807", "-9223372036854775808", "18446744073", "604801", "-1"} {
		resp, body := call(t, h.Roll(), keyEvent(t, "roll-key", id, `{"grace_period_seconds":`+grace+`}`))
		if resp.StatusCode != 400 || errorCode(body) != "validation_failed" {
			t.Fatalf("grace %s: %d %v", grace, resp.StatusCode, body)
		}
	}
	k, _ := h.Store.Get(context.Background(), "org_demo", id)
	if k.Status != keystore.StatusActive || !k.ExpiresAt.IsZero() || k.RolledTo != "" {
		t.Fatalf("refused rolls changed the key: %+v", k)
	}
	resp, body := call(t, h.Roll(), keyEvent(t, "roll-key", id, `{"grace_period_seconds":604800}`))
	if resp.StatusCode != 201 || body["replaced"].(map[string]any)["expires_at"] == nil {
		t.Fatalf("7 days: %d %v", resp.StatusCode, body)
	}
}

// Issue 8, finding 6: rolling again during the grace period made a second
// successor, took over rolled_to and left the first successor active and
// unlinked.
func TestRollOfARolledKeyIsConflict(t *testing.T) {
	h := newHandlers(t)
	id, _ := createKey(t, h)
	resp, first := call(t, h.Roll(), keyEvent(t, "roll-key", id, `{"grace_period_seconds":3600}`))
	if resp.StatusCode != 201 {
		t.Fatalf("first roll: %d %v", resp.StatusCode, first)
	}
	firstID := first["id"].(string)
	resp, body := call(t, h.Roll(), keyEvent(t, "roll-key", id, `{"grace_period_seconds":3600}`))
	msg, _ := body["error"].(map[string]any)["message"].(string)
	if resp.StatusCode != 409 || errorCode(body) != "conflict" || !strings.Contains(msg, firstID) {
		t.Fatalf("second roll: %d %v", resp.StatusCode, body)
	}
	old, _ := h.Store.Get(context.Background(), "org_demo", id)
	if old.RolledTo != firstID {
		t.Fatalf("rolled_to %s, want %s", old.RolledTo, firstID)
	}
	if n := keyCount(t, h); n != 2 {
		t.Fatalf("%d keys, want the old one and one successor", n)
	}
	// The successor itself may be rolled.
	if resp, body := call(t, h.Roll(), keyEvent(t, "roll-key", firstID, "")); resp.StatusCode != 201 {
		t.Fatalf("roll of the successor: %d %v", resp.StatusCode, body)
	}
}

// A roll retried with its Idempotency-Key is a replay even when If-Match no
// longer matches: the first request changed the key.
func TestRollReplayBeatsIfMatch(t *testing.T) {
	h := newHandlers(t)
	id, etag := createKey(t, h)
	ev := withIdempotencyKey(keyEvent(t, "roll-key", id, "", etag), "roll-once", false, "")
	resp, first := call(t, h.Roll(), ev)
	if resp.StatusCode != 201 {
		t.Fatalf("roll: %d %v", resp.StatusCode, first)
	}
	resp, body := call(t, h.Roll(), ev)
	key := checkReplay(t, resp.StatusCode, body)
	if key["id"] != first["id"] {
		t.Fatalf("replay names %v, the roll made %v", key["id"], first["id"])
	}
}
