package adminapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/flowella/apikeys/shared/adminapi"
)

// Issue 13, defect 1: the many-keys warning counted the organisation's
// active_keys counter, which no expiry decrements. It now counts what
// status=active lists, through expiry, a roll's grace and a revoke.
func TestManyActiveKeysWarningFollowsTheList(t *testing.T) {
	h := newHandlers(t)
	now := time.Now().UTC().Truncate(time.Second)
	h.Now = func() time.Time { return now }

	create := func(body map[string]any) string {
		t.Helper()
		ev := sampleEvent(t, "create-key")
		b, _ := json.Marshal(body)
		ev.Body = string(b)
		ev.Headers, ev.MultiValueHeaders = withoutIdempotencyKey(ev.Headers), withoutIdempotencyKey(ev.MultiValueHeaders)
		status, out := invoke(t, h.Create(), ev)
		if status != 201 {
			t.Fatalf("create: %d %v", status, out)
		}
		return out["id"].(string)
	}
	withID := func(name, id string) events.APIGatewayProxyRequest {
		ev := sampleEvent(t, name)
		ev.PathParameters = map[string]string{"id": id}
		ev.Path = strings.Replace(ev.Path, "key_01KMZ0000000000000000000AB", id, 1)
		ev.Headers, ev.MultiValueHeaders = withoutIdempotencyKey(ev.Headers), withoutIdempotencyKey(ev.MultiValueHeaders)
		return ev
	}
	// check lists status=active and all, and wants the warning exactly when
	// the active list holds ManyActiveKeys keys or more.
	check := func(step string, wantActive int) {
		t.Helper()
		ev := sampleEvent(t, "list-keys")
		ev.QueryStringParameters = map[string]string{"status": "active", "limit": "100"}
		ev.MultiValueQueryStringParameters = map[string][]string{"status": {"active"}, "limit": {"100"}}
		status, list := invoke(t, h.List(), ev)
		if status != 200 {
			t.Fatalf("%s: list: %d %v", step, status, list)
		}
		if n := len(list["items"].([]any)); n != wantActive {
			t.Fatalf("%s: the list shows %d active keys, want %d", step, n, wantActive)
		}
		warnings := list["warnings"].([]any)
		if wantActive < adminapi.ManyActiveKeys {
			if len(warnings) != 0 {
				t.Fatalf("%s: %d active keys, yet warnings %v", step, wantActive, warnings)
			}
			return
		}
		want := fmt.Sprintf("your organisation has %d active keys;", wantActive)
		if len(warnings) != 1 || warnings[0].(map[string]any)["code"] != "many_active_keys" ||
			!strings.HasPrefix(warnings[0].(map[string]any)["message"].(string), want) {
			t.Fatalf("%s: warnings %v, want %q…", step, warnings, want)
		}
	}

	var ids []string
	for i := range adminapi.ManyActiveKeys - 1 {
		ids = append(ids, create(map[string]any{"label": fmt.Sprintf("key %d", i)}))
	}
	create(map[string]any{"label": "expiring", "expires_at": now.Add(time.Hour).Format(time.RFC3339)})
	check("49 keys and one expiring in an hour", 50)

	now = now.Add(2 * time.Hour)
	check("an hour after the expiry", 49)

	status, out := invoke(t, h.Roll(), withID("roll-key", ids[0])) // grace_period_seconds 3600
	if status != 201 && status != 200 {
		t.Fatalf("roll: %d %v", status, out)
	}
	check("a roll, within its grace", 50)
	now = now.Add(2 * time.Hour)
	check("the roll's grace over", 49)

	create(map[string]any{"label": "one more"})
	check("one more", 50)
	status, out = invoke(t, h.Revoke(), withID("revoke-key", ids[1]))
	if status != 200 {
		t.Fatalf("revoke: %d %v", status, out)
	}
	check("a revoke", 49)

	// The counter the warning used to read overcounts by now.
	org, err := h.Store.GetOrg(context.Background(), "org_demo")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("organisation counter active_keys = %d, keys listed active = 49", org.ActiveKeys)
}

// withoutIdempotencyKey drops the sample events' Idempotency-Key, so each
// call is a request of its own.
func withoutIdempotencyKey[V any](headers map[string]V) map[string]V {
	out := map[string]V{}
	for k, v := range headers {
		if !strings.EqualFold(k, "Idempotency-Key") {
			out[k] = v
		}
	}
	return out
}
