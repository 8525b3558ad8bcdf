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
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/flowella/apikeys/local/dynamotest"
	"github.com/flowella/apikeys/shared/apikey"
	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/stamp"
)

func newStore(t *testing.T) (*keystore.Store, *dynamodb.Client, dynamotest.Tables) {
	t.Helper()
	db, tables := dynamotest.Setup(t)
	s := keystore.New(db, tables["KeysTable"], tables["OrgsTable"])
	for _, org := range []string{"org_a", "org_b"} {
		if err := s.SetOrg(context.Background(), org, "paid", []string{"audit_log"}); err != nil {
			t.Fatal(err)
		}
	}
	return s, db, tables
}

func change(op string) keystore.Change {
	return keystore.Change{Op: op, At: stamp.Of(time.Now()),
		Actor: keystore.Actor{UserID: "u_1", IP: "127.0.0.1", UserAgent: "test"},
		Trace: keystore.Trace{RequestID: "req-1"}}
}

func newKey(t *testing.T, s *keystore.Store, org string) (keystore.Key, apikey.Key) {
	t.Helper()
	secret, err := apikey.Generate(apikey.EnvLive)
	if err != nil {
		t.Fatal(err)
	}
	c := change(keystore.OpCreate)
	k := keystore.Key{Hash: secret.Hash(), ID: keystore.NewID(), OrgID: org, Prefix: secret.Prefix(),
		Label: "ci", Scopes: []string{"*"}, Status: keystore.StatusActive, CreatedAt: c.At, CreatedBy: "u_1", LastChange: &c}
	if err := s.Create(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	k.Version = keystore.FirstVersion // as stored
	return k, secret
}

func TestCreateLookupGet(t *testing.T) {
	s, db, tables := newStore(t)
	ctx := context.Background()
	k, secret := newKey(t, s, "org_a")

	got, err := s.LookupByHash(ctx, secret.Hash())
	if err != nil || got.ID != k.ID || got.OrgID != "org_a" {
		t.Fatalf("lookup: %+v %v", got, err)
	}
	if _, err := s.Get(ctx, "org_a", k.ID); err != nil {
		t.Fatalf("get: %v", err)
	}
	if _, err := s.Get(ctx, "org_b", k.ID); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("get from other org: %v", err)
	}
	org, _ := s.GetOrg(ctx, "org_a")
	if org.ActiveKeys != 1 {
		t.Fatalf("active_keys = %d", org.ActiveKeys)
	}

	// Nothing in the table holds the secret.
	scan, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(tables["KeysTable"])})
	if err != nil {
		t.Fatal(err)
	}
	if dump := fmt.Sprintf("%#v", scan.Items); strings.Contains(dump, secret.Secret()[16:]) {
		t.Fatal("table holds the secret")
	}
}

func TestCreateNeedsOrg(t *testing.T) {
	s, _, _ := newStore(t)
	secret, _ := apikey.Generate(apikey.EnvLive)
	err := s.Create(context.Background(), keystore.Key{Hash: secret.Hash(), ID: keystore.NewID(), OrgID: "org_missing", Status: keystore.StatusActive,
		CreatedAt: stamp.Of(time.Now())})
	if !errors.Is(err, keystore.ErrOrgNotFound) {
		t.Fatalf("err = %v", err)
	}
	if _, err := s.LookupByHash(context.Background(), secret.Hash()); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatal("key stored although the transaction failed")
	}
}

func TestListNewestFirstWithCursor(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := context.Background()
	var ids []string
	for i := 0; i < 7; i++ {
		k, _ := newKey(t, s, "org_a")
		ids = append(ids, k.ID)
		time.Sleep(2 * time.Millisecond)
	}
	newKey(t, s, "org_b")
	if _, err := s.Revoke(ctx, "org_a", ids[1], "", change(keystore.OpRevoke)); err != nil {
		t.Fatal(err)
	}

	var seen []string
	before := ""
	for pages := 0; ; pages++ {
		keys, next, err := s.List(ctx, "org_a", keystore.ListOptions{Limit: 3, Before: before})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			seen = append(seen, k.ID)
		}
		if next == "" {
			break
		}
		before = next
		if pages > 5 {
			t.Fatal("cursor loops")
		}
	}
	if len(seen) != 7 {
		t.Fatalf("listed %d keys, want 7", len(seen))
	}
	for i := range seen {
		if seen[i] != ids[len(ids)-1-i] {
			t.Fatalf("order: got %v", seen)
		}
	}

	active, _, err := s.List(ctx, "org_a", keystore.ListOptions{Limit: 50, Status: keystore.StatusActive, Now: time.Now()})
	if err != nil || len(active) != 6 {
		t.Fatalf("active = %d, %v", len(active), err)
	}
	// The active and expired filters are decided at a time the caller gives.
	active, _, err = s.List(ctx, "org_a", keystore.ListOptions{Limit: 50, Status: keystore.StatusActive})
	if !errors.Is(err, keystore.ErrUntimed) {
		t.Fatalf("active without Now: %d keys, %v; want ErrUntimed", len(active), err)
	}
	active, _, err = s.List(ctx, "org_a", keystore.ListOptions{Limit: 50, Status: keystore.StatusActive, Now: time.Now()})
	if err != nil || len(active) != 6 {
		t.Fatalf("active = %d, %v", len(active), err)
	}
	revoked, next, err := s.List(ctx, "org_a", keystore.ListOptions{Limit: 1, Status: keystore.StatusRevoked})
	if err != nil || len(revoked) != 1 || revoked[0].ID != ids[1] || next != "" {
		t.Fatalf("revoked = %v next=%q err=%v", revoked, next, err)
	}
}

func TestConcurrentRevokesOneWins(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := context.Background()
	k, _ := newKey(t, s, "org_a")
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.Revoke(ctx, "org_a", k.ID, "leaked", change(keystore.OpRevoke))
		}()
	}
	wg.Wait()
	ok, already := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, keystore.ErrAlreadyRevoked):
			already++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 || already != n-1 {
		t.Fatalf("ok=%d already=%d", ok, already)
	}
	org, _ := s.GetOrg(ctx, "org_a")
	if org.ActiveKeys != 0 {
		t.Fatalf("active_keys = %d after one revoke", org.ActiveKeys)
	}
}

func TestUpdateAndRevokeRules(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := context.Background()
	k, _ := newKey(t, s, "org_a")
	label := "renamed"
	got, err := s.Update(ctx, "org_a", k.ID, keystore.Changes{Label: &label, Scopes: []string{"messages:send"}}, change(keystore.OpUpdate))
	if err != nil || got.Label != "renamed" || len(got.Scopes) != 1 {
		t.Fatalf("update: %+v %v", got, err)
	}
	if _, err := s.Update(ctx, "org_b", k.ID, keystore.Changes{Label: &label}, change(keystore.OpUpdate)); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("update from other org: %v", err)
	}
	if _, err := s.Revoke(ctx, "org_b", k.ID, "", change(keystore.OpRevoke)); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("revoke from other org: %v", err)
	}
	if _, err := s.Revoke(ctx, "org_a", k.ID, "rotated", change(keystore.OpRevoke)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, "org_a", k.ID, keystore.Changes{Label: &label}, change(keystore.OpUpdate)); !errors.Is(err, keystore.ErrRevoked) {
		t.Fatalf("update of revoked key: %v", err)
	}
	got, _ = s.Get(ctx, "org_a", k.ID)
	if got.Status != keystore.StatusRevoked || got.RevokeReason != "rotated" || got.RevokedBy != "u_1" || got.RevokedAt.IsZero() {
		t.Fatalf("revoked key: %+v", got)
	}
}

func TestTouchLastUsedOncePerMinute(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := context.Background()
	_, secret := newKey(t, s, "org_a")
	now := time.Now()
	steps := []struct {
		at    time.Time
		wrote bool
	}{
		{now, true},
		{now.Add(10 * time.Second), false},
		{now.Add(59 * time.Second), false},
		{now.Add(61 * time.Second), true},
		{now.Add(62 * time.Second), false},
	}
	for i, st := range steps {
		wrote, err := s.TouchLastUsed(ctx, secret.Hash(), st.at)
		if err != nil || wrote != st.wrote {
			t.Fatalf("step %d: wrote=%v err=%v, want %v", i, wrote, err, st.wrote)
		}
	}
	k, _ := s.LookupByHash(ctx, secret.Hash())
	// The touch writes last_used_at alone: the admin change before it stays.
	if k.LastUsedAt != stamp.Of(now.Add(61*time.Second)) || k.LastChange == nil || k.LastChange.Op != keystore.OpCreate {
		t.Fatalf("last_used_at=%s last_change=%v", k.LastUsedAt, k.LastChange)
	}
	// An unknown hash is never created by a touch.
	if wrote, err := s.TouchLastUsed(ctx, apikey.Hash("nope"), now); wrote || err != nil {
		t.Fatalf("touch of unknown key: %v %v", wrote, err)
	}
}

func TestValidID(t *testing.T) {
	id := keystore.NewID()
	for _, tt := range []struct {
		in string
		ok bool
	}{{id, true}, {"key_", false}, {"key_123", false}, {strings.ToLower(id), false}, {"abc_" + id[4:], false}, {id + "0", false}} {
		if keystore.ValidID(tt.in) != tt.ok {
			t.Errorf("ValidID(%q) != %v", tt.in, tt.ok)
		}
	}
}
