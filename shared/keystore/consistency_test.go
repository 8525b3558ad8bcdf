package keystore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/flowella/apikeys/local/dynamofault"
	"github.com/flowella/apikeys/local/dynamotest"
	"github.com/flowella/apikeys/shared/apikey"
	"github.com/flowella/apikeys/shared/keystore"
)

// newFaultyStore is newStore over a client that inj injects DynamoDB's
// faults into (transaction conflicts, throttling, index lag), with
// Idempotency-Key records.
func newFaultyStore(t *testing.T, inj *dynamofault.Injector) (*keystore.Store, *dynamodb.Client, dynamotest.Tables) {
	t.Helper()
	raw, tables := dynamotest.Setup(t)
	inj.KeySchema(tables["KeysTable"], "key_hash")
	inj.KeySchema(tables["OrgsTable"], "org_id")
	db := dynamodb.New(raw.Options(), inj.Option())
	s := keystore.New(db, tables["KeysTable"], tables["OrgsTable"]).WithIdempotency(tables["IdempotencyTable"])
	for _, org := range []string{"org_a", "org_b"} {
		if err := s.SetOrg(context.Background(), org, "paid", nil); err != nil {
			t.Fatal(err)
		}
	}
	return s, raw, tables
}

// successor is a replacement for old, as the roll endpoint makes it.
func successor(t *testing.T, old keystore.Key) (keystore.Key, keystore.Change) {
	t.Helper()
	c := change(keystore.OpRoll)
	next, _ := draft(t, old.OrgID, time.Now())
	next.Label, next.Scopes, next.AllowedIPs, next.Channels, next.ExpiresAt = old.Label, old.Scopes, old.AllowedIPs, old.Channels, old.ExpiresAt
	next.RolledFrom, next.LastChange, next.CreatedAt = old.ID, &c, c.At
	return next, c
}

// Issue 7, item 7: get, update, revoke and roll found a key by id through the
// org-keys index, which DynamoDB keeps eventually consistent; right after a
// create they answered "not found". They now read the id pointer, strongly.
func TestReadsByIDDoNotWaitForTheIndex(t *testing.T) {
	inj := dynamofault.New(dynamofault.Config{GSILag: time.Hour}) // the index never catches up here
	s, _, _ := newFaultyStore(t, inj)
	ctx := context.Background()

	a, _ := newKey(t, s, "org_a")
	got, err := s.Get(ctx, "org_a", a.ID)
	if err != nil || got.ID != a.ID || got.Version != keystore.FirstVersion {
		t.Fatalf("get right after create: %+v %v", got, err)
	}
	label := "relabelled"
	if _, err := s.Update(ctx, "org_a", a.ID, keystore.Changes{Label: &label}, change(keystore.OpUpdate)); err != nil {
		t.Fatalf("update right after create: %v", err)
	}
	if _, err := s.Revoke(ctx, "org_a", a.ID, "", change(keystore.OpRevoke)); err != nil {
		t.Fatalf("revoke right after create: %v", err)
	}
	b, _ := newKey(t, s, "org_a")
	old, err := s.Get(ctx, "org_a", b.ID)
	if err != nil {
		t.Fatalf("get before roll: %v", err)
	}
	next, c := successor(t, old)
	if _, err := s.Roll(ctx, "org_a", old, next, time.Hour, c); err != nil {
		t.Fatalf("roll right after create: %v", err)
	}
	if _, err := s.Get(ctx, "org_a", next.ID); err != nil {
		t.Fatalf("get of the successor right after the roll: %v", err)
	}
	// The lag is real: the index has seen none of it.
	if keys, _, err := s.List(ctx, "org_a", keystore.ListOptions{Limit: 10}); err != nil || len(keys) != 0 {
		t.Fatalf("the index lists %d keys (%v); the injected lag is not in effect", len(keys), err)
	}
	if inj.Stats().Hidden == 0 {
		t.Fatal("no item was held back from the index")
	}

	// The pointer keeps tenants apart: another organisation gets not found.
	if _, err := s.Get(ctx, "org_b", b.ID); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("get from org_b: %v", err)
	}
	if _, err := s.Update(ctx, "org_b", b.ID, keystore.Changes{Label: &label}, change(keystore.OpUpdate)); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("update from org_b: %v", err)
	}
	if _, err := s.Revoke(ctx, "org_b", b.ID, "", change(keystore.OpRevoke)); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("revoke from org_b: %v", err)
	}
	if _, err := s.Get(ctx, "org_a", keystore.NewID()); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("get of an unknown id: %v", err)
	}
}

// Keys stored before id pointers and versions existed have neither: they
// are found through the index (long caught up with them) and count as
// version 0.
func TestLegacyKeyWithoutPointer(t *testing.T) {
	s, db, tables := newStore(t)
	ctx := context.Background()
	secret, _ := apikey.Generate(apikey.EnvLive)
	c := change(keystore.OpCreate)
	legacy := keystore.Key{Hash: secret.Hash(), ID: keystore.NewID(), OrgID: "org_a", Prefix: secret.Prefix(),
		Label: "old", Scopes: []string{"*"}, Status: keystore.StatusActive, CreatedAt: c.At, CreatedBy: "u_1", LastChange: &c}
	item, err := attributevalue.MarshalMap(legacy)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := item["version"]; ok {
		t.Fatal("a version 0 key is stored with a version attribute")
	}
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tables["KeysTable"]), Item: item}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "org_a", legacy.ID)
	if err != nil || got.Version != 0 {
		t.Fatalf("get of a legacy key: %+v %v", got, err)
	}
	if _, err := s.Get(ctx, "org_b", legacy.ID); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("legacy key from org_b: %v", err)
	}
	label := "still old"
	updated, err := s.UpdateAt(ctx, got, keystore.Changes{Label: &label}, change(keystore.OpUpdate))
	if err != nil || updated.Version != 1 || updated.Label != label {
		t.Fatalf("update of a legacy key: %+v %v", updated, err)
	}
	// The version read (0) is gone: acting on it again is a conflict.
	if _, err := s.UpdateAt(ctx, got, keystore.Changes{Label: &label}, change(keystore.OpUpdate)); !errors.Is(err, keystore.ErrChanged) {
		t.Fatalf("update of the version read before: %v", err)
	}
	if _, err := s.Revoke(ctx, "org_a", legacy.ID, "", change(keystore.OpRevoke)); err != nil {
		t.Fatalf("revoke of a legacy key: %v", err)
	}
}

// The pointer is no key: it is not listed, and the audit never sees it
// (see audit_contract_test.go for the stream).
func TestPointersAreNotListed(t *testing.T) {
	s, db, tables := newStore(t)
	ctx := context.Background()
	k, _ := newKey(t, s, "org_a")
	keys, _, err := s.List(ctx, "org_a", keystore.ListOptions{Limit: 10})
	if err != nil || len(keys) != 1 || keys[0].ID != k.ID {
		t.Fatalf("list: %+v %v", keys, err)
	}
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(tables["KeysTable"]), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"key_hash": &types.AttributeValueMemberS{Value: keystore.PointerPrefix + k.ID}}})
	if err != nil || out.Item == nil {
		t.Fatalf("pointer: %v %v", out, err)
	}
	var names []string
	for name := range out.Item {
		names = append(names, name)
	}
	slices.Sort(names)
	if fmt.Sprint(names) != "[key_hash ptr_key_hash ptr_org_id]" {
		t.Fatalf("pointer attributes %v: it must carry neither the index's keys nor last_change", names)
	}
	if !keystore.IsPointer(keystore.PointerPrefix+k.ID) || keystore.IsPointer(k.Hash) {
		t.Fatal("IsPointer")
	}
}
