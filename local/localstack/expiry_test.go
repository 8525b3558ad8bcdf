package localstack_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/flowella/apikeys/shared/keystore"
)

// expireNow moves a key's expiry into the past, as time would.
func (h *harness) expireNow(id string) {
	h.t.Helper()
	k, err := h.store.Get(context.Background(), "org_a", id)
	if err != nil {
		h.t.Fatal(err)
	}
	expr, _ := expression.NewBuilder().WithUpdate(expression.Set(expression.Name("expires_at"),
		expression.Value(keystore.FormatTime(time.Now().Add(-time.Second))))).Build()
	_, err = h.db.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
		TableName: aws.String(h.tables["KeysTable"]), Key: map[string]types.AttributeValue{"key_hash": &types.AttributeValueMemberS{Value: k.Hash}},
		UpdateExpression: expr.Update(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	if err != nil {
		h.t.Fatal(err)
	}
}

func TestExpiry(t *testing.T) {
	h := newHarness(t)
	admin := h.token("org_a", "u_a", "admin")
	in := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	r := h.do("POST", "/v1/api-keys", admin, map[string]any{"label": "temporary", "expires_at": in})
	if r.Status != 201 || r.Body["expires_at"] == nil || r.Body["status"] != "active" {
		t.Fatalf("create: %d %s", r.Status, r.Raw)
	}
	id, secret := r.Body["id"].(string), r.Body["secret"].(string)
	forever, _ := h.createKey(admin, map[string]any{"label": "forever"})
	if r := h.do("GET", "/v1/whoami", secret, nil); r.Status != 200 {
		t.Fatalf("before expiry: %d", r.Status)
	}

	h.expireNow(id)
	if r := h.do("GET", "/v1/whoami", secret, nil); r.Status != 401 {
		t.Fatalf("after expiry: %d %s", r.Status, r.Raw)
	}
	if r := h.do("GET", "/v1/api-keys/"+id, admin, nil); r.Body["status"] != "expired" {
		t.Fatalf("get: %s", r.Raw)
	}
	ids := func(status string) []string {
		var out []string
		for _, it := range h.do("GET", "/v1/api-keys?status="+status, admin, nil).Body["items"].([]any) {
			out = append(out, it.(map[string]any)["id"].(string))
		}
		return out
	}
	if got := ids("expired"); len(got) != 1 || got[0] != id {
		t.Fatalf("status=expired: %v", got)
	}
	if got := ids("active"); len(got) != 1 || got[0] != forever {
		t.Fatalf("status=active: %v", got)
	}
	if r := h.do("PATCH", "/v1/api-keys/"+id, admin, map[string]any{"label": "revived?"}); r.Status != 409 || code(r) != "conflict" {
		t.Fatalf("patch expired: %d %s", r.Status, r.Raw)
	}
	// Revoking an expired key is allowed: it records that the key is dead for good.
	if r := h.do("POST", "/v1/api-keys/"+id+"/revoke", admin, nil); r.Status != 200 || r.Body["status"] != "revoked" {
		t.Fatalf("revoke expired: %d %s", r.Status, r.Raw)
	}

	for name, v := range map[string]any{
		"not a time": "tomorrow", "past": time.Now().Add(-time.Hour).Format(time.RFC3339),
		"too soon": time.Now().Add(10 * time.Second).Format(time.RFC3339), "too far": time.Now().AddDate(10, 0, 0).Format(time.RFC3339),
		"number": 1700000000,
	} {
		if r := h.do("POST", "/v1/api-keys", admin, map[string]any{"label": "x", "expires_at": v}); r.Status != 400 || code(r) != "validation_failed" {
			t.Fatalf("%s: %d %s", name, r.Status, r.Raw)
		}
	}
}
