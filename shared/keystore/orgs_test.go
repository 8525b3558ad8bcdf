package keystore_test

import (
	"context"
	"testing"
	"time"

	"github.com/flowella/apikeys/shared/apikey"
	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/stamp"
)

// Issue 13, defect 2: seeding creates a missing organisation and leaves an
// existing one as make org set it.
func TestSeedOrgKeepsAnExistingOrganisation(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := context.Background()

	created, err := s.SeedOrg(ctx, "org_new", "hobby", nil)
	if err != nil || !created {
		t.Fatalf("seed of a new org: created %v, %v", created, err)
	}
	if o, err := s.GetOrg(ctx, "org_new"); err != nil || o.Plan != "hobby" || len(o.Features) != 0 || o.ActiveKeys != 0 {
		t.Fatalf("seeded org: %+v %v", o, err)
	}

	// org_a is paid with audit_log (newStore); make org then moves it to hobby.
	if err := s.SetOrg(ctx, "org_a", "hobby", nil); err != nil {
		t.Fatal(err)
	}
	newKey(t, s, "org_a")
	created, err = s.SeedOrg(ctx, "org_a", "paid", []string{"audit_log"})
	if err != nil || created {
		t.Fatalf("seed of an existing org: created %v, %v", created, err)
	}
	o, err := s.GetOrg(ctx, "org_a")
	if err != nil || o.Plan != "hobby" || len(o.Features) != 0 || o.ActiveKeys != 1 {
		t.Fatalf("after a second seed: %+v %v; want plan hobby, no features, 1 active key", o, err)
	}
}

// Issue 13, defect 1: CountActive counts exactly what List calls active —
// an expired key, a rolled key past its grace and a revoked key drop out.
func TestCountActiveMatchesTheList(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := context.Background()
	now := time.Now()

	expiring := draftKey(t, "org_a", now.Add(time.Hour))
	if err := s.Create(ctx, expiring); err != nil {
		t.Fatal(err)
	}
	rolled, _ := newKey(t, s, "org_a")
	next, c := successor(t, rolled)
	if _, err := s.Roll(ctx, "org_a", rolled, next, 30*time.Minute, c); err != nil {
		t.Fatal(err)
	}
	revoked, _ := newKey(t, s, "org_a")
	newKey(t, s, "org_b") // another organisation's key never counts

	tests := []struct {
		name string
		at   time.Time
		want int
	}{
		{"now: expiring, rolled (in grace), successor, revoked-to-be", now, 4},
		{"past the roll's grace", now.Add(45 * time.Minute), 3},
		{"past the expiry too", now.Add(2 * time.Hour), 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assertActive(t, s, tc.at, tc.want)
		})
	}
	if _, err := s.Revoke(ctx, "org_a", revoked.ID, "", change(keystore.OpRevoke)); err != nil {
		t.Fatal(err)
	}
	assertActive(t, s, now, 3)
	assertActive(t, s, now.Add(2*time.Hour), 1)

	// The count stops at its limit.
	if n, err := s.CountActive(ctx, "org_a", now, 2); err != nil || n != 2 {
		t.Fatalf("count with limit 2: %d %v", n, err)
	}
}

// assertActive checks CountActive against a status=active List at at.
func assertActive(t *testing.T, s *keystore.Store, at time.Time, want int) {
	t.Helper()
	ctx := context.Background()
	keys, _, err := s.List(ctx, "org_a", keystore.ListOptions{Limit: 100, Status: keystore.StatusActive, Now: at})
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.CountActive(ctx, "org_a", at, 50)
	if err != nil {
		t.Fatal(err)
	}
	if n != want || len(keys) != want {
		ids := make([]string, len(keys))
		for i, k := range keys {
			ids[i] = k.ID
		}
		t.Fatalf("at %s: CountActive %d, List %d %v; want %d", keystore.FormatTime(at), n, len(keys), ids, want)
	}
}

// draftKey is a key of org expiring at expires, ready to Create.
func draftKey(t *testing.T, org string, expires time.Time) keystore.Key {
	t.Helper()
	secret, err := apikey.Generate(apikey.EnvLive)
	if err != nil {
		t.Fatal(err)
	}
	c := change(keystore.OpCreate)
	return keystore.Key{Hash: secret.Hash(), ID: keystore.NewID(), OrgID: org, Prefix: secret.Prefix(),
		Label: "expiring", Scopes: []string{"*"}, Status: keystore.StatusActive, CreatedAt: c.At, CreatedBy: "u_1",
		LastChange: &c, ExpiresAt: stamp.Of(expires)}
}
