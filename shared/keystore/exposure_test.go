package keystore_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/flowella/apikeys/shared/audit"
	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/streamevents"
)

func exposure(url, source string) keystore.Change {
	c := change(keystore.OpExpose)
	c.Actor = keystore.Actor{UserID: "github_secret_scanning", IP: "140.82.115.10", UserAgent: "GitHub-Hookshot/1"}
	c.ExposureURL, c.ExposureSource = url, source
	return c
}

// An exposure is one write: with revoke, RevokeAt's transaction (status,
// version, the organisation's count) plus the exposure fields; without, the
// exposure fields alone. The stream image of either becomes an
// api_key.exposed audit record with the URL and source, and the revoke its
// api_key.revoked record.
func TestExposeAtRevokesOrFlagsAndIsAudited(t *testing.T) {
	s, db, tables := newStore(t)
	ctx := context.Background()
	revoked, _ := newKey(t, s, "org_a")
	flagged, _ := newKey(t, s, "org_b")
	url := "https://github.com/octo-org/app/blob/4f2a/.env"
	if err := s.ExposeAt(ctx, revoked, true, exposure(url, "content")); err != nil {
		t.Fatal(err)
	}
	if err := s.ExposeAt(ctx, flagged, false, exposure(url, "commit")); err != nil {
		t.Fatal(err)
	}
	k, _ := s.Get(ctx, "org_a", revoked.ID)
	if k.Status != keystore.StatusRevoked || k.RevokeReason != keystore.ReasonExposed || k.RevokedBy != "github_secret_scanning" ||
		k.ExposedAt != k.RevokedAt || k.ExposureURL != url || k.Version != 2 {
		t.Fatalf("revoked: %+v", k)
	}
	f, _ := s.Get(ctx, "org_b", flagged.ID)
	if f.Status != keystore.StatusActive || f.ExposedAt.IsZero() || f.ExposureSource != "commit" || f.Version != 2 {
		t.Fatalf("flagged: %+v", f)
	}
	for org, want := range map[string]int{"org_a": 0, "org_b": 1} {
		if o, _ := s.GetOrg(ctx, org); o.ActiveKeys != want {
			t.Errorf("%s has %d active keys, want %d", org, o.ActiveKeys, want)
		}
	}

	// Acting on the key as read: a second exposure of the same version is
	// refused as the matching write would be.
	if err := s.ExposeAt(ctx, revoked, true, exposure(url, "content")); !errors.Is(err, keystore.ErrAlreadyRevoked) {
		t.Fatalf("second revoke: %v", err)
	}
	if err := s.ExposeAt(ctx, flagged, false, exposure(url, "content")); !errors.Is(err, keystore.ErrChanged) {
		t.Fatalf("stale flag: %v", err)
	}
	// Flagged again from another place: exposed_at stays the first report's.
	time.Sleep(2 * time.Millisecond)
	if err := s.ExposeAt(ctx, f, false, exposure("https://gist.github.com/x/1", "gist")); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.Get(ctx, "org_b", flagged.ID); again.ExposedAt != f.ExposedAt || again.ExposureURL != "https://gist.github.com/x/1" {
		t.Fatalf("flagged again: %+v", again)
	}

	var types []string
	for _, r := range streamRecords(t, db, tables["KeysTable"]) {
		rec, _, err := streamevents.LambdaRecord(r, "arn:aws:dynamodb:us-east-1:000000000000:table/KeysTable/stream/x")
		if err != nil {
			t.Fatal(err)
		}
		out, err := audit.FromStream(rec)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range out {
			types = append(types, a.Type)
			if a.Type != audit.TypeExposed {
				continue
			}
			if a.Actor.UserID != "github_secret_scanning" || a.After["exposure_url"] == nil || a.After["exposure_source"] == nil || a.After["exposed_at"] == nil {
				t.Errorf("exposed record: %+v", a)
			}
			if a.KeyID == revoked.ID && a.After["status"] != "revoked" || a.KeyID == flagged.ID && a.After["status"] != "active" {
				t.Errorf("exposed record's status: %+v", a)
			}
		}
	}
	want := []string{audit.TypeCreated, audit.TypeCreated, audit.TypeExposed, audit.TypeRevoked, audit.TypeExposed, audit.TypeExposed}
	if !slices.Equal(types, want) {
		t.Fatalf("audit records %v, want %v", types, want)
	}
}

func TestSetOnExposure(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := context.Background()
	if o, _ := s.GetOrg(ctx, "org_a"); o.ExposurePolicy() != keystore.ExposureRevoke {
		t.Fatalf("default: %q", o.ExposurePolicy())
	}
	if err := s.SetOnExposure(ctx, "org_a", keystore.ExposureNotify); err != nil {
		t.Fatal(err)
	}
	// Setting the plan again leaves the choice alone.
	if err := s.SetOrg(ctx, "org_a", "hobby", nil); err != nil {
		t.Fatal(err)
	}
	if o, _ := s.GetOrg(ctx, "org_a"); o.ExposurePolicy() != keystore.ExposureNotify || o.Plan != "hobby" {
		t.Fatalf("after SetOrg: %+v", o)
	}
	if err := s.SetOnExposure(ctx, "org_a", "ignore"); err == nil {
		t.Fatal("an unknown setting was accepted")
	}
	if err := s.SetOnExposure(ctx, "org_nope", keystore.ExposureNotify); !errors.Is(err, keystore.ErrOrgNotFound) {
		t.Fatalf("unknown org: %v", err)
	}
}

func TestListExposedKeys(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := context.Background()
	plain, _ := newKey(t, s, "org_a")
	flagged, _ := newKey(t, s, "org_a")
	revoked, _ := newKey(t, s, "org_a")
	_ = plain
	if err := s.ExposeAt(ctx, flagged, false, exposure("https://github.com/o/r/blob/1/a", "content")); err != nil {
		t.Fatal(err)
	}
	if err := s.ExposeAt(ctx, revoked, true, exposure("https://github.com/o/r/blob/1/b", "content")); err != nil {
		t.Fatal(err)
	}
	ids := func(opts keystore.ListOptions) []string {
		opts.Limit, opts.Now = 50, time.Now()
		keys, _, err := s.List(ctx, "org_a", opts)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, k := range keys {
			out = append(out, k.ID)
		}
		return out
	}
	if got := ids(keystore.ListOptions{Exposed: true}); !slices.Equal(got, []string{revoked.ID, flagged.ID}) {
		t.Fatalf("exposed: %v", got)
	}
	if got := ids(keystore.ListOptions{Exposed: true, Status: keystore.StatusActive}); !slices.Equal(got, []string{flagged.ID}) {
		t.Fatalf("exposed and active: %v", got)
	}
	if got := ids(keystore.ListOptions{}); len(got) != 3 {
		t.Fatalf("all: %v", got)
	}
}

// Many keys go in groups of ExposeGroup, each one transaction with one
// update of the organisation's count; a key whose condition fails (revoked
// or changed since it was read) gets its own error and the rest of its
// group is written.
func TestExposeAllInGroups(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := context.Background()
	const n = keystore.ExposeGroup + 5
	keys := make([]keystore.Key, n)
	changes := make([]keystore.Change, n)
	for i := range keys {
		keys[i], _ = newKey(t, s, "org_a")
		changes[i] = exposure("https://github.com/o/r/blob/1/k", "content")
	}
	if _, err := s.Revoke(ctx, "org_a", keys[3].ID, "", change(keystore.OpRevoke)); err != nil {
		t.Fatal(err)
	}
	label := "changed"
	if _, err := s.Update(ctx, "org_a", keys[n-1].ID, keystore.Changes{Label: &label}, change(keystore.OpUpdate)); err != nil {
		t.Fatal(err)
	}
	errs := s.ExposeAll(ctx, keys, true, changes)
	for i, err := range errs {
		switch i {
		case 3:
			if !errors.Is(err, keystore.ErrAlreadyRevoked) {
				t.Errorf("key %d, revoked before: %v", i, err)
			}
		case n - 1:
			if !errors.Is(err, keystore.ErrChanged) {
				t.Errorf("key %d, changed since read: %v", i, err)
			}
		default:
			if err != nil {
				t.Errorf("key %d: %v", i, err)
			}
			if k, _ := s.Get(ctx, "org_a", keys[i].ID); k.Status != keystore.StatusRevoked || k.RevokeReason != keystore.ReasonExposed {
				t.Errorf("key %d: %+v", i, k)
			}
		}
	}
	// n created, one revoked before, n-2 now: the changed key is still active.
	if o, _ := s.GetOrg(ctx, "org_a"); o.ActiveKeys != 1 {
		t.Fatalf("active keys %d, want 1", o.ActiveKeys)
	}
}
