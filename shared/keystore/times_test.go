package keystore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/flowella/apikeys/shared/apikey"
	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/stamp"
)

// storedText reads attribute name of the key item under hash, as stored.
func storedText(t *testing.T, db *dynamodb.Client, table, hash, name string) types.AttributeValue {
	t.Helper()
	out, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"key_hash": &types.AttributeValueMemberS{Value: hash}}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item[name]
}

func setAttr(t *testing.T, db *dynamodb.Client, table, hash, name string, v types.AttributeValue) {
	t.Helper()
	if _, err := db.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{TableName: aws.String(table),
		Key:                       map[string]types.AttributeValue{"key_hash": &types.AttributeValueMemberS{Value: hash}},
		UpdateExpression:          aws.String("SET #n = :v"),
		ExpressionAttributeNames:  map[string]string{"#n": name},
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": v}}); err != nil {
		t.Fatal(err)
	}
}

// Times are stored as the text they have always been stored as (the
// conditions and sort keys compare it), unset times not at all.
func TestTimesStoredAsFixedWidthText(t *testing.T) {
	s, db, tables := newStore(t)
	at := time.Date(2026, 11, 30, 4, 5, 6, 789_123_456, time.UTC)
	secret, _ := apikey.Generate(apikey.EnvLive)
	c := keystore.Change{Op: keystore.OpCreate, At: stamp.Of(at), Actor: keystore.Actor{UserID: "u_1"}}
	k := keystore.Key{Hash: secret.Hash(), ID: keystore.NewID(), OrgID: "org_a", Prefix: secret.Prefix(), Label: "t",
		Scopes: []string{"*"}, Status: keystore.StatusActive, CreatedAt: c.At, CreatedBy: "u_1", LastChange: &c,
		ExpiresAt: stamp.Of(at.Add(time.Hour))}
	if err := s.Create(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	table := tables["KeysTable"]
	for name, want := range map[string]string{"created_at": "2026-11-30T04:05:06.789Z", "expires_at": "2026-11-30T05:05:06.789Z"} {
		if got, ok := storedText(t, db, table, k.Hash, name).(*types.AttributeValueMemberS); !ok || got.Value != want {
			t.Errorf("%s stored as %#v, want the string %s", name, storedText(t, db, table, k.Hash, name), want)
		}
	}
	for _, name := range []string{"last_used_at", "revoked_at", "exposed_at"} {
		if v := storedText(t, db, table, k.Hash, name); v != nil {
			t.Errorf("unset %s stored as %#v", name, v)
		}
	}
	got, err := s.LookupByHash(context.Background(), k.Hash)
	if err != nil || got.CreatedAt != c.At || got.LastChange.At != c.At || got.ExpiresAt != stamp.Of(at.Add(time.Hour)) || !got.LastUsedAt.IsZero() {
		t.Fatalf("read back %+v, %v", got, err)
	}
}

// An item written with whole-second times (time.RFC3339) still reads, and
// its expiry still counts; a malformed time is an error, never "not set":
// read as unset, a broken expires_at would make an expired key live.
func TestStoredTimesRead(t *testing.T) {
	s, db, tables := newStore(t)
	table := tables["KeysTable"]
	k, _ := newKey(t, s, "org_a")
	setAttr(t, db, table, k.Hash, "expires_at", &types.AttributeValueMemberS{Value: "2020-01-01T00:00:00Z"})
	got, err := s.LookupByHash(context.Background(), k.Hash)
	if err != nil || got.ExpiresAt.String() != "2020-01-01T00:00:00.000Z" || got.StatusAt(time.Now()) != keystore.StatusExpired {
		t.Fatalf("whole-second expiry: %v %v, %v", got.ExpiresAt, got.StatusAt(time.Now()), err)
	}
	// Hand edits in other spellings that sort with the stored text read as
	// the instant they name; another offset is an error (DynamoDB's
	// conditions would compare its text as another instant).
	for _, edited := range []string{"2020-01-01", "2020-01-01T00:00:00+00:00", "2020-01-01T00:00:00.000000Z"} {
		setAttr(t, db, table, k.Hash, "expires_at", &types.AttributeValueMemberS{Value: edited})
		got, err := s.LookupByHash(context.Background(), k.Hash)
		if err != nil || got.ExpiresAt.String() != "2020-01-01T00:00:00.000Z" || got.StatusAt(time.Now()) != keystore.StatusExpired {
			t.Errorf("expires_at %q: %v %v, %v", edited, got.ExpiresAt, got.StatusAt(time.Now()), err)
		}
	}
	for _, bad := range []types.AttributeValue{&types.AttributeValueMemberS{Value: "01/01/2020"},
		&types.AttributeValueMemberS{Value: "never"}, &types.AttributeValueMemberS{Value: "2020-01-01 00:00:00"},
		&types.AttributeValueMemberS{Value: "2020-01-01T01:00:00+01:00"},
		&types.AttributeValueMemberN{Value: "1577836800"}} {
		setAttr(t, db, table, k.Hash, "expires_at", bad)
		if got, err := s.LookupByHash(context.Background(), k.Hash); err == nil {
			t.Errorf("expires_at %v read as %v without an error", bad, got.ExpiresAt)
		}
		if got, err := s.Get(context.Background(), "org_a", k.ID); err == nil {
			t.Errorf("Get: expires_at %v read as %v without an error", bad, got.ExpiresAt)
		}
	}
}

// Every write says when it happens: none is made without a time.
func TestWritesNeedATime(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := context.Background()
	k, _ := newKey(t, s, "org_a")
	untimed := change(keystore.OpUpdate)
	untimed.At = 0
	label := "x"
	if _, err := s.UpdateAt(ctx, k, keystore.Changes{Label: &label}, untimed); !errors.Is(err, keystore.ErrUntimed) {
		t.Errorf("UpdateAt without a time: %v", err)
	}
	untimed.Op = keystore.OpRevoke
	if _, err := s.RevokeAt(ctx, k, "", untimed); !errors.Is(err, keystore.ErrUntimed) {
		t.Errorf("RevokeAt without a time: %v", err)
	}
	untimed.Op = keystore.OpExpose
	for _, revoke := range []bool{false, true} {
		if err := s.ExposeAt(ctx, k, revoke, untimed); !errors.Is(err, keystore.ErrUntimed) {
			t.Errorf("ExposeAt(revoke %v) without a time: %v", revoke, err)
		}
	}
	secret, _ := apikey.Generate(apikey.EnvLive)
	next := keystore.Key{Hash: secret.Hash(), ID: keystore.NewID(), OrgID: "org_a", Prefix: secret.Prefix(), Label: "n",
		Status: keystore.StatusActive, CreatedBy: "u_1"}
	if err := s.Create(ctx, next); !errors.Is(err, keystore.ErrUntimed) {
		t.Errorf("Create without created_at: %v", err)
	}
	untimed.Op = keystore.OpRoll
	next.CreatedAt = k.CreatedAt
	if _, err := s.Roll(ctx, "org_a", k, next, time.Hour, untimed); !errors.Is(err, keystore.ErrUntimed) {
		t.Errorf("Roll without a time: %v", err)
	}
	if wrote, err := s.TouchLastUsed(ctx, k.Hash, time.Time{}); wrote || !errors.Is(err, keystore.ErrUntimed) {
		t.Errorf("TouchLastUsed without a time: %v, %v", wrote, err)
	}
	if n, err := s.CountActive(ctx, "org_a", time.Time{}, 10); !errors.Is(err, keystore.ErrUntimed) {
		t.Errorf("CountActive without a time: %d, %v", n, err)
	}
	got, err := s.Get(ctx, "org_a", k.ID)
	if err != nil || !got.LastUsedAt.IsZero() || got.Version != k.Version || got.Status != keystore.StatusActive || !got.ExposedAt.IsZero() || got.RolledTo != "" {
		t.Fatalf("an untimed write changed the key: %+v, %v", got, err)
	}
}

// An item naming a field in another case ("Status" beside "status") is
// refused by every read, the list included: attributevalue would read
// either into the field, in no set order, so a written "Status":"active"
// could show, or let through, a revoked key.
func TestAFieldNamedInAnotherCaseIsRefused(t *testing.T) {
	s, db, tables := newStore(t)
	k, _ := newKey(t, s, "org_a")
	setAttr(t, db, tables["KeysTable"], k.Hash, "Status", &types.AttributeValueMemberS{Value: string(keystore.StatusActive)})
	ctx := context.Background()
	if got, err := s.LookupByHash(ctx, k.Hash); !errors.Is(err, keystore.ErrAmbiguousItem) {
		t.Errorf("LookupByHash: %v, %v; want ErrAmbiguousItem", got.Status, err)
	}
	if got, err := s.Get(ctx, "org_a", k.ID); !errors.Is(err, keystore.ErrAmbiguousItem) {
		t.Errorf("Get: %v, %v; want ErrAmbiguousItem", got.Status, err)
	}
	if got, _, err := s.List(ctx, "org_a", keystore.ListOptions{Limit: 10, Now: time.Now()}); !errors.Is(err, keystore.ErrAmbiguousItem) {
		t.Errorf("List: %d keys, %v; want ErrAmbiguousItem", len(got), err)
	}
}
