package localstack_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Issue 8, finding 3: reactivating a revoked key, or widening its scopes,
// by a direct UpdateItem that leaves last_change alone or removes it, used
// to leave no audit record. Each is now api_key.unattributed_change, with
// no admin named, in the organisation's audit log.
func TestWritesThatBypassTheAPIAreAudited(t *testing.T) {
	h := newHarness(t)
	admin := h.token("org_a", "u_admin", "admin")
	id, _ := h.createKey(admin, map[string]any{"label": "bypassed", "scopes": []string{"messages:read"}})
	if r := h.do("POST", "/v1/api-keys/"+id+"/revoke", admin, nil); r.Status != 200 {
		t.Fatalf("revoke: %d %s", r.Status, r.Raw)
	}
	k, err := h.store.Get(context.Background(), "org_a", id)
	if err != nil {
		t.Fatal(err)
	}
	update := func(u expression.UpdateBuilder) {
		t.Helper()
		expr, err := expression.NewBuilder().WithUpdate(u).Build()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.db.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
			TableName:                 aws.String(h.tables["KeysTable"]),
			Key:                       map[string]types.AttributeValue{"key_hash": &types.AttributeValueMemberS{Value: k.Hash}},
			UpdateExpression:          expr.Update(),
			ExpressionAttributeNames:  expr.Names(),
			ExpressionAttributeValues: expr.Values(),
		}); err != nil {
			t.Fatal(err)
		}
	}
	update(expression.Set(expression.Name("status"), expression.Value("active")).Remove(expression.Name("revoked_at")))
	update(expression.Set(expression.Name("scopes"), expression.Value([]string{"*"})).Remove(expression.Name("last_change")))

	items := h.waitAudit("org_a", 4)
	var unattributed []map[string]any
	for _, it := range items {
		if it["type"] == "api_key.unattributed_change" {
			unattributed = append(unattributed, it)
		}
	}
	if len(items) != 4 || len(unattributed) != 2 {
		t.Fatalf("audit records: %v", items)
	}
	for _, it := range unattributed {
		actor, _ := it["actor"].(map[string]any)
		if it["key_id"] != id || actor["user_id"] != "unknown" {
			t.Fatalf("unattributed record %v: the key, and no admin, must be named", it)
		}
	}
	seen := map[string]bool{}
	for _, it := range unattributed {
		after, _ := it["after"].(map[string]any)
		if after["status"] == "active" {
			seen["reactivated"] = true
		}
		if scopes, _ := after["scopes"].([]any); len(scopes) == 1 && scopes[0] == "*" {
			seen["widened"] = true
		}
	}
	if !seen["reactivated"] || !seen["widened"] {
		t.Fatalf("unattributed records %v: want the reactivation and the widened scopes", unattributed)
	}
}
