package adminapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

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
	// Another function's clock, 2 s behind the one that created the key
	// (within keystore.MaxClockSkew).
	behind := created.LastChange.At.Time().Add(-2 * time.Second)
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

// A last change dated far ahead (a hand edit, a broken clock) is not
// followed: the next change is dated by the clock, and a roll's grace is
// counted from it, not from 2099.
func TestALastChangeFarAheadIsNotFollowed(t *testing.T) {
	a := newAPI(t)
	admin := sessionOf("org_a", "u_a", "admin")
	id, _ := a.createKey(admin, map[string]any{"label": "ahead", "scopes": []string{"messages:send"}})
	k, err := a.store.Get(context.Background(), "org_a", id)
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.db.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
		TableName:                 aws.String(a.tables["KeysTable"]),
		Key:                       map[string]types.AttributeValue{"key_hash": &types.AttributeValueMemberS{Value: k.Hash}},
		UpdateExpression:          aws.String("SET last_change.#at = :t"),
		ExpressionAttributeNames:  map[string]string{"#at": "at"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberS{Value: "2099-01-01T00:00:00.000Z"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	if r := a.do("POST", "/v1/api-keys/"+id+"/roll", admin, map[string]any{"grace_period_seconds": 60}); r.Status != 201 {
		t.Fatalf("roll: %d %s", r.Status, r.Raw)
	}
	old, err := a.store.Get(context.Background(), "org_a", id)
	if err != nil {
		t.Fatal(err)
	}
	if old.LastChange.At.Time().Year() == 2099 || old.ExpiresAt.Time().After(time.Now().Add(2*time.Minute)) ||
		old.ExpiresAt.Time().Before(before.Add(time.Minute-time.Second)) {
		t.Fatalf("rolled key: last change %s, expires %s; want now and a minute from now", old.LastChange.At, old.ExpiresAt)
	}
}
