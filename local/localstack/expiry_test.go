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

func TestExpiredKeyIsRefusedByTheAuthorizer(t *testing.T) {
	h := newHarness(t)
	admin := h.token("org_a", "u_a", "admin")
	in := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	r := h.do("POST", "/v1/api-keys", admin, map[string]any{"label": "temporary", "expires_at": in})
	if r.Status != 201 || r.Body["expires_at"] == nil || r.Body["status"] != "active" {
		t.Fatalf("create: %d %s", r.Status, r.Raw)
	}
	id, secret := r.Body["id"].(string), r.Body["secret"].(string)
	if r := h.do("GET", "/v1/whoami", secret, nil); r.Status != 200 {
		t.Fatalf("before expiry: %d", r.Status)
	}

	h.expireNow(id)
	if r := h.do("GET", "/v1/whoami", secret, nil); r.Status != 401 {
		t.Fatalf("after expiry: %d %s", r.Status, r.Raw)
	}
	// How the endpoints treat an expired key is tested beside them
	// (shared/adminapi/expiry_test.go).
}
