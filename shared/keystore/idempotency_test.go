package keystore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/flowella/apikeys/shared/apikey"
	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/stamp"
)

// newIdempotentStore is newStore with Idempotency-Key records.
func newIdempotentStore(t *testing.T) (*keystore.Store, *dynamodb.Client, string) {
	t.Helper()
	s, db, tables := newStore(t)
	return s.WithIdempotency(tables["IdempotencyTable"]), db, tables["IdempotencyTable"]
}

// draft is a new key of org, not yet stored, created at at.
func draft(t *testing.T, org string, at time.Time) (keystore.Key, apikey.Key) {
	t.Helper()
	secret, err := apikey.Generate(apikey.EnvLive)
	if err != nil {
		t.Fatal(err)
	}
	c := change(keystore.OpCreate)
	c.At = stamp.Of(at)
	return keystore.Key{Hash: secret.Hash(), ID: keystore.NewID(), OrgID: org, Prefix: secret.Prefix(), Label: "ci",
		Scopes: []string{"*"}, Status: keystore.StatusActive, CreatedAt: c.At, CreatedBy: "u_1", LastChange: &c}, secret
}

func countKeys(t *testing.T, s *keystore.Store, org string) int {
	t.Helper()
	keys, _, err := s.List(context.Background(), org, keystore.ListOptions{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return len(keys)
}

func TestCreateOnce(t *testing.T) {
	s, db, table := newIdempotentStore(t)
	ctx := context.Background()
	now := time.Now()
	idem := keystore.Idempotency{Key: "retry-me", Fingerprint: "fp-1"}

	first, secret := draft(t, "org_a", now)
	if err := s.CreateOnce(ctx, first, idem); err != nil {
		t.Fatal(err)
	}

	// The same key and request: the first key, not a second one.
	again, _ := draft(t, "org_a", now.Add(time.Minute))
	err := s.CreateOnce(ctx, again, idem)
	var replay *keystore.ReplayError
	if !errors.As(err, &replay) || !errors.Is(err, keystore.ErrIdempotentReplay) || replay.Key.ID != first.ID || replay.Op != keystore.OpCreate {
		t.Fatalf("replay: %v", err)
	}
	// The same key with another request is refused.
	other, _ := draft(t, "org_a", now.Add(time.Minute))
	if err := s.CreateOnce(ctx, other, keystore.Idempotency{Key: "retry-me", Fingerprint: "fp-2"}); !errors.Is(err, keystore.ErrIdempotencyKeyReused) {
		t.Fatalf("other request: %v", err)
	}
	if n := countKeys(t, s, "org_a"); n != 1 {
		t.Fatalf("org_a has %d keys, want 1", n)
	}
	if org, _ := s.GetOrg(ctx, "org_a"); org.ActiveKeys != 1 {
		t.Fatalf("active_keys = %d", org.ActiveKeys)
	}

	// Idempotency keys are the organisation's own.
	theirs, _ := draft(t, "org_b", now)
	if err := s.CreateOnce(ctx, theirs, idem); err != nil {
		t.Fatalf("same idempotency key in org_b: %v", err)
	}

	// The record holds the key's id and hash, never its secret, and expires in 24 h.
	scan, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	var records []map[string]any
	if err := attributevalue.UnmarshalListOfMaps(scan.Items, &records); err != nil {
		t.Fatal(err)
	}
	if dump := fmt.Sprint(records); len(records) != 2 || strings.Contains(dump, secret.Secret()[16:]) {
		t.Fatalf("idempotency records: %s", dump)
	}
	for _, r := range records {
		if r["org_id"] == "org_a" && (r["key_id"] != first.ID || r["key_hash"] != first.Hash ||
			int64(r["expires_at_epoch"].(float64)) != now.Add(24*time.Hour).Unix()) {
			t.Fatalf("org_a's record: %v", r)
		}
	}
}

func TestCreateOnceForgetsAfter24Hours(t *testing.T) {
	s, _, _ := newIdempotentStore(t)
	ctx := context.Background()
	now := time.Now()
	idem := keystore.Idempotency{Key: "daily", Fingerprint: "fp"}
	first, _ := draft(t, "org_a", now)
	if err := s.CreateOnce(ctx, first, idem); err != nil {
		t.Fatal(err)
	}
	// Just inside the window: still a replay.
	inside, _ := draft(t, "org_a", now.Add(24*time.Hour-time.Second))
	if err := s.CreateOnce(ctx, inside, idem); !errors.Is(err, keystore.ErrIdempotentReplay) {
		t.Fatalf("inside the window: %v", err)
	}
	// Past it, the record counts as gone although TTL has not deleted it.
	later, _ := draft(t, "org_a", now.Add(25*time.Hour))
	if err := s.CreateOnce(ctx, later, idem); err != nil {
		t.Fatalf("after 24 h: %v", err)
	}
	if n := countKeys(t, s, "org_a"); n != 2 {
		t.Fatalf("org_a has %d keys, want 2", n)
	}
}

func TestCreateOnceRemembersNothingWhenTheCreateFails(t *testing.T) {
	s, _, _ := newIdempotentStore(t)
	ctx := context.Background()
	idem := keystore.Idempotency{Key: "k", Fingerprint: "fp"}
	k, _ := draft(t, "org_new", time.Now())
	if err := s.CreateOnce(ctx, k, idem); !errors.Is(err, keystore.ErrOrgNotFound) {
		t.Fatalf("create in an unconfigured org: %v", err)
	}
	// Once the organisation exists, the retry creates the key: the failed
	// transaction left no record behind.
	if err := s.SetOrg(ctx, "org_new", "paid", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateOnce(ctx, k, idem); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if n := countKeys(t, s, "org_new"); n != 1 {
		t.Fatalf("org_new has %d keys, want 1", n)
	}
}

func TestCreateOnceWithoutTable(t *testing.T) {
	s, _, _ := newStore(t)
	k, _ := draft(t, "org_a", time.Now())
	if err := s.CreateOnce(context.Background(), k, keystore.Idempotency{Key: "k", Fingerprint: "fp"}); !errors.Is(err, keystore.ErrNoIdempotencyTable) {
		t.Fatalf("err = %v", err)
	}
	if n := countKeys(t, s, "org_a"); n != 0 {
		t.Fatalf("%d keys stored", n)
	}
}

func TestConcurrentCreateOnceMakesOneKey(t *testing.T) {
	s, _, _ := newIdempotentStore(t)
	ctx := context.Background()
	idem := keystore.Idempotency{Key: "burst", Fingerprint: "fp"}
	const n = 8
	drafts := make([]keystore.Key, n)
	for i := range drafts {
		drafts[i], _ = draft(t, "org_a", time.Now())
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.CreateOnce(ctx, drafts[i], idem)
		}()
	}
	wg.Wait()
	created := ""
	for i, err := range errs {
		switch {
		case err == nil:
			if created != "" {
				t.Fatalf("two creates succeeded: %s and %s", created, drafts[i].ID)
			}
			created = drafts[i].ID
		case errors.Is(err, keystore.ErrIdempotentReplay), errors.Is(err, keystore.ErrConflict):
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if created == "" {
		t.Fatalf("no create succeeded: %v", errs)
	}
	for _, err := range errs {
		var replay *keystore.ReplayError
		if errors.As(err, &replay) && replay.Key.ID != created {
			t.Fatalf("replay names %s, created %s", replay.Key.ID, created)
		}
	}
	if got := countKeys(t, s, "org_a"); got != 1 {
		t.Fatalf("org_a has %d keys, want 1", got)
	}
}

func TestRollOnce(t *testing.T) {
	s, _, _ := newIdempotentStore(t)
	ctx := context.Background()
	old, _ := newKey(t, s, "org_a")
	idem := keystore.Idempotency{Key: "roll-1", Fingerprint: "fp"}
	roll := func(grace time.Duration, idem keystore.Idempotency) (keystore.Key, error) {
		c := change(keystore.OpRoll)
		next, _ := draft(t, "org_a", time.Now())
		next.RolledFrom, next.LastChange = old.ID, &c
		next.CreatedAt = c.At
		_, err := s.RollOnce(ctx, "org_a", old, next, grace, c, idem)
		return next, err
	}

	// With a grace period the old key stays active: without the record, a
	// retry would make a second replacement.
	first, err := roll(time.Hour, idem)
	if err != nil {
		t.Fatal(err)
	}
	_, err = roll(time.Hour, idem)
	var replay *keystore.ReplayError
	if !errors.As(err, &replay) || replay.Key.ID != first.ID || replay.Key.RolledFrom != old.ID || replay.Op != keystore.OpRoll {
		t.Fatalf("retried roll: %v", err)
	}
	if _, err := roll(0, keystore.Idempotency{Key: "roll-1", Fingerprint: "other"}); !errors.Is(err, keystore.ErrIdempotencyKeyReused) {
		t.Fatalf("same key, other request: %v", err)
	}
	if n := countKeys(t, s, "org_a"); n != 2 {
		t.Fatalf("org_a has %d keys, want the old one and one replacement", n)
	}
	got, _ := s.Get(ctx, "org_a", old.ID)
	if got.RolledTo != first.ID {
		t.Fatalf("old key rolled_to %s, want %s", got.RolledTo, first.ID)
	}

	// A roll that revoked the old key is still a replay, not "revoked".
	old, _ = newKey(t, s, "org_a")
	idem = keystore.Idempotency{Key: "roll-2", Fingerprint: "fp"}
	first, err = roll(0, idem)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := roll(0, idem); !errors.As(err, &replay) || replay.Key.ID != first.ID {
		t.Fatalf("retried revoke-now roll: %v", err)
	}
	// Another idempotency key on the revoked key is refused as before.
	if _, err := roll(0, keystore.Idempotency{Key: "roll-3", Fingerprint: "fp"}); !errors.Is(err, keystore.ErrRevoked) {
		t.Fatalf("roll of a revoked key: %v", err)
	}
}

func TestConcurrentRollOnceMakesOneReplacement(t *testing.T) {
	s, _, _ := newIdempotentStore(t)
	ctx := context.Background()
	old, _ := newKey(t, s, "org_a")
	idem := keystore.Idempotency{Key: "roll-burst", Fingerprint: "fp"}
	const n = 8
	errs := make([]error, n)
	nexts := make([]keystore.Key, n)
	var wg sync.WaitGroup
	for i := range n {
		c := change(keystore.OpRoll)
		nexts[i], _ = draft(t, "org_a", time.Now())
		nexts[i].RolledFrom, nexts[i].LastChange, nexts[i].CreatedAt = old.ID, &c, c.At
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.RollOnce(ctx, "org_a", old, nexts[i], time.Hour, c, idem)
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, keystore.ErrIdempotentReplay), errors.Is(err, keystore.ErrConflict):
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d rolls succeeded: %v", ok, errs)
	}
	if got := countKeys(t, s, "org_a"); got != 2 {
		t.Fatalf("org_a has %d keys, want the old one and one replacement", got)
	}
}
