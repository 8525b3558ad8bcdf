package keystore_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/flowella/apikeys/local/dynamofault"
	"github.com/flowella/apikeys/shared/keystore"
)

// Issue 8: every admin write increments the version and acts on the version
// it read; a last-used write does neither.
func TestWritesActOnTheVersionRead(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := context.Background()
	k, secret := newKey(t, s, "org_a")
	read, _ := s.Get(ctx, "org_a", k.ID)

	label := "v2"
	v2, err := s.UpdateAt(ctx, read, keystore.Changes{Label: &label}, change(keystore.OpUpdate))
	if err != nil || v2.Version != 2 {
		t.Fatalf("update: version %d, %v", v2.Version, err)
	}
	// Everything acting on version 1 now fails, and changes nothing.
	other := "lost"
	if _, err := s.UpdateAt(ctx, read, keystore.Changes{Label: &other}, change(keystore.OpUpdate)); !errors.Is(err, keystore.ErrChanged) {
		t.Fatalf("update of version 1: %v", err)
	}
	if _, err := s.RevokeAt(ctx, read, "", change(keystore.OpRevoke)); !errors.Is(err, keystore.ErrChanged) {
		t.Fatalf("revoke of version 1: %v", err)
	}
	next, c := successor(t, read)
	if _, err := s.Roll(ctx, "org_a", read, next, 0, c); !errors.Is(err, keystore.ErrChanged) {
		t.Fatalf("roll of version 1: %v", err)
	}
	if _, err := s.Get(ctx, "org_a", next.ID); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("a refused roll stored its successor: %v", err)
	}
	now, _ := s.Get(ctx, "org_a", k.ID)
	if now.Label != "v2" || now.Version != 2 || now.Status != keystore.StatusActive {
		t.Fatalf("after refused writes: %+v", now)
	}

	// The authorizer's last-used write neither needs nor moves the version.
	if wrote, err := s.TouchLastUsed(ctx, secret.Hash(), time.Now()); !wrote || err != nil {
		t.Fatalf("touch: %v %v", wrote, err)
	}
	touched, _ := s.Get(ctx, "org_a", k.ID)
	if touched.Version != 2 || touched.LastUsedAt.IsZero() {
		t.Fatalf("after last-used write: version %d, last used %v", touched.Version, touched.LastUsedAt)
	}
	// So a write acting on the version read before it still goes through.
	revoked, err := s.RevokeAt(ctx, now, "done", change(keystore.OpRevoke))
	if err != nil || revoked.Version != 3 || revoked.Status != keystore.StatusRevoked {
		t.Fatalf("revoke after a last-used write: %+v %v", revoked, err)
	}
	if _, err := s.RevokeAt(ctx, revoked, "", change(keystore.OpRevoke)); !errors.Is(err, keystore.ErrAlreadyRevoked) {
		t.Fatalf("second revoke: %v", err)
	}
}

// Issue 8, finding 6: rolling a key again during its grace period made a
// second successor, took over rolled_to and left the first one active and
// unlinked. A key whose successor is live cannot be rolled again.
func TestRollOfAKeyWithALiveSuccessorIsRefused(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := context.Background()
	k, _ := newKey(t, s, "org_a")
	first, c := successor(t, k)
	if _, err := s.Roll(ctx, "org_a", k, first, time.Hour, c); err != nil {
		t.Fatal(err)
	}
	old, _ := s.Get(ctx, "org_a", k.ID)
	second, c := successor(t, old)
	var rolled *keystore.RolledError
	if _, err := s.Roll(ctx, "org_a", old, second, time.Hour, c); !errors.As(err, &rolled) || rolled.To != first.ID {
		t.Fatalf("second roll during the grace period: %v", err)
	}
	after, _ := s.Get(ctx, "org_a", k.ID)
	if after.RolledTo != first.ID || after.Version != old.Version {
		t.Fatalf("old key after the refused roll: rolled_to %s, version %d", after.RolledTo, after.Version)
	}
	if _, err := s.Get(ctx, "org_a", second.ID); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("a second successor was stored: %v", err)
	}
	if n := countKeys(t, s, "org_a"); n != 2 {
		t.Fatalf("%d keys, want the old one and one successor", n)
	}

	// Two rolls racing from the same read: one successor.
	k2, _ := newKey(t, s, "org_a")
	read, _ := s.Get(ctx, "org_a", k2.ID)
	errs := make([]error, 8)
	var wg sync.WaitGroup
	for i := range errs {
		next, c := successor(t, read)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.Roll(ctx, "org_a", read, next, time.Hour, c)
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, keystore.ErrChanged), errors.Is(err, keystore.ErrAlreadyRolled):
		default:
			t.Errorf("racing roll: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d racing rolls succeeded, want 1", ok)
	}

	// Once the successor is revoked, the old key (still in its grace
	// period) may be rolled again.
	if _, err := s.Revoke(ctx, "org_a", first.ID, "lost", change(keystore.OpRevoke)); err != nil {
		t.Fatal(err)
	}
	old, _ = s.Get(ctx, "org_a", k.ID)
	third, c := successor(t, old)
	if _, err := s.Roll(ctx, "org_a", old, third, time.Hour, c); err != nil {
		t.Fatalf("roll after the successor was revoked: %v", err)
	}
}

// Issue 7, item 8: a transaction conflict was answered as a conflict (409).
// DynamoDB Local never produces one, so they are injected into the client;
// each write goes through after its conflicts.
func TestTransactionConflictsAreRetried(t *testing.T) {
	inj := dynamofault.New(dynamofault.Config{})
	s, _, _ := newFaultyStore(t, inj)
	ctx := context.Background()
	const conflicts = 3
	step := func(name string, write func() error) {
		t.Helper()
		before := inj.Stats().Conflicts
		inj.ConflictNext(conflicts)
		if err := write(); err != nil {
			t.Fatalf("%s after %d conflicts: %v", name, conflicts, err)
		}
		if got := inj.Stats().Conflicts - before; got != conflicts {
			t.Fatalf("%s: %d conflicts injected, want %d", name, got, conflicts)
		}
	}
	var k keystore.Key
	step("create", func() error {
		k, _ = draft(t, "org_a", time.Now())
		return s.Create(ctx, k)
	})
	step("create once", func() error {
		d, _ := draft(t, "org_a", time.Now())
		return s.CreateOnce(ctx, d, keystore.Idempotency{Key: "k", Fingerprint: "fp"})
	})
	read, _ := s.Get(ctx, "org_a", k.ID)
	label := "after conflicts"
	step("update", func() error {
		var err error
		read, err = s.UpdateAt(ctx, read, keystore.Changes{Label: &label}, change(keystore.OpUpdate))
		return err
	})
	step("roll", func() error {
		next, c := successor(t, read)
		_, err := s.RollOnce(ctx, "org_a", read, next, time.Hour, c, keystore.Idempotency{Key: "r", Fingerprint: "fp"})
		return err
	})
	read, _ = s.Get(ctx, "org_a", k.ID)
	step("revoke", func() error {
		_, err := s.RevokeAt(ctx, read, "", change(keystore.OpRevoke))
		return err
	})
	if org, _ := s.GetOrg(ctx, "org_a"); org.ActiveKeys != 2 {
		t.Fatalf("active_keys = %d, want 2 (each write counted once)", org.ActiveKeys)
	}
}

// Conflicts on every attempt end in ErrContention, which is Unavailable
// (a 503, try again), never ErrConflict (a 409); nothing is written.
func TestEndlessConflictsAreUnavailable(t *testing.T) {
	inj := dynamofault.New(dynamofault.Config{})
	s, _, _ := newFaultyStore(t, inj)
	ctx := context.Background()
	k, _ := newKey(t, s, "org_a")
	read, _ := s.Get(ctx, "org_a", k.ID)

	inj.Set(dynamofault.Config{Conflicts: 1})
	started := time.Now()
	d, _ := draft(t, "org_a", time.Now())
	err := s.Create(ctx, d)
	if !errors.Is(err, keystore.ErrContention) || !keystore.Unavailable(err) || errors.Is(err, keystore.ErrConflict) {
		t.Fatalf("create under endless conflicts: %v", err)
	}
	if took := time.Since(started); took > 2*time.Second {
		t.Fatalf("gave up after %v; the retries are bounded well under a second of waiting", took)
	}
	label := "x"
	if _, err := s.UpdateAt(ctx, read, keystore.Changes{Label: &label}, change(keystore.OpUpdate)); !keystore.Unavailable(err) {
		t.Fatalf("update: %v", err)
	}
	if _, err := s.RevokeAt(ctx, read, "", change(keystore.OpRevoke)); !keystore.Unavailable(err) {
		t.Fatalf("revoke: %v", err)
	}
	if got := inj.Stats().Conflicts; got != 3*6 {
		t.Fatalf("%d attempts, want 6 per write", got)
	}

	// Throttling that outlasts the SDK's retries is Unavailable too.
	inj.Set(dynamofault.Config{Throttle: 1})
	if _, err := s.Get(ctx, "org_a", k.ID); !keystore.Unavailable(err) {
		t.Fatalf("get under throttling: %v", err)
	}

	inj.Set(dynamofault.Config{})
	now, err := s.Get(ctx, "org_a", k.ID)
	if err != nil || now.Version != read.Version || now.Status != keystore.StatusActive || now.Label != read.Label {
		t.Fatalf("the key changed under refused writes: %+v %v", now, err)
	}
	if n := countKeys(t, s, "org_a"); n != 1 {
		t.Fatalf("%d keys, want 1", n)
	}
}

// Issue 8, finding 1, at the store: a roll copies the key it read; a PATCH
// that lands between the read and the roll's write must not be lost. 40
// races, both orders of starting: after each, either the PATCH's values are
// on the live successor, or one of the two was refused as a conflict.
func TestRollAndUpdateRacesLoseNothing(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := context.Background()
	wantIPs, wantScopes := []string{"10.0.0.0/8"}, []string{"messages:read"}
	var refused, lost, bothOK int
	for race := range 40 {
		k, _ := newKey(t, s, "org_a")
		var rollErr, updErr error
		var next keystore.Key
		var wg sync.WaitGroup
		wg.Add(2)
		roll := func() {
			defer wg.Done()
			old, err := s.Get(ctx, "org_a", k.ID)
			if err != nil {
				rollErr = err
				return
			}
			var c keystore.Change
			next, c = successor(t, old)
			_, rollErr = s.Roll(ctx, "org_a", old, next, 0, c)
		}
		update := func() {
			defer wg.Done()
			ips := slices.Clone(wantIPs)
			_, updErr = s.Update(ctx, "org_a", k.ID, keystore.Changes{AllowedIPs: &ips, Scopes: wantScopes}, change(keystore.OpUpdate))
		}
		if race%2 == 0 {
			go roll()
			go update()
		} else {
			go update()
			go roll()
		}
		wg.Wait()
		for _, err := range []error{rollErr, updErr} {
			if err != nil && !errors.Is(err, keystore.ErrChanged) && !errors.Is(err, keystore.ErrRevoked) {
				t.Fatalf("race %d: %v", race, err)
			}
		}
		if rollErr != nil || updErr != nil {
			refused++
			continue
		}
		bothOK++
		live, err := s.Get(ctx, "org_a", next.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(live.AllowedIPs, wantIPs) || !slices.Equal(live.Scopes, wantScopes) {
			lost++
		}
	}
	t.Logf("40 roll/update races: %d both succeeded, %d refused one (409), %d lost updates", bothOK, refused, lost)
	if lost != 0 {
		t.Fatalf("%d of 40 races lost the update", lost)
	}
}

// failReadsAfterWrite is the real client whose reads fail once a
// transaction has committed: the read-back after a revoke meets a throttle.
type failReadsAfterWrite struct {
	keystore.API
	wrote bool
}

func (f *failReadsAfterWrite) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	out, err := f.API.TransactWriteItems(ctx, in, opts...)
	f.wrote = err == nil
	return out, err
}

func (f *failReadsAfterWrite) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if f.wrote {
		return nil, errors.New("injected: throughput exceeded")
	}
	return f.API.GetItem(ctx, in, opts...)
}

// A revoke that committed answers with the key as written even when reading
// it back fails: someone revoking a leaked key is not told it failed.
func TestRevokeCommittedIsReportedEvenIfTheReadBackFails(t *testing.T) {
	s, db, tables := newStore(t)
	k, _ := newKey(t, s, "org_a")
	flaky := keystore.New(&failReadsAfterWrite{API: db}, tables["KeysTable"], tables["OrgsTable"])
	got, err := flaky.RevokeAt(context.Background(), k, "leaked", change(keystore.OpRevoke))
	if err != nil || got.Status != keystore.StatusRevoked || got.RevokeReason != "leaked" || got.Version != k.Version+1 {
		t.Fatalf("revoke: %+v %v", got, err)
	}
	stored, err := s.Get(context.Background(), "org_a", k.ID)
	if err != nil || stored.Status != keystore.StatusRevoked || stored.Version != got.Version || stored.RevokedAt != got.RevokedAt {
		t.Fatalf("stored %+v %v, answered %+v", stored, err, got)
	}
}
