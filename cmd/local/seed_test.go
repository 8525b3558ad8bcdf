package main

import (
	"context"
	"testing"

	"github.com/flowella/apikeys/local/dynamotest"
	"github.com/flowella/apikeys/shared/keystore"
)

// Issue 13, defect 2: a restart of make run must not reset what make org
// set on a demo organisation.
func TestSeedDemoOrgsKeepsWhatMakeOrgSet(t *testing.T) {
	db, tables := dynamotest.Setup(t)
	store := keystore.New(db, tables["KeysTable"], tables["OrgsTable"])
	ctx := context.Background()

	if err := seedDemoOrgs(ctx, store); err != nil { // first start
		t.Fatal(err)
	}
	for _, o := range demoOrgs {
		got, err := store.GetOrg(ctx, o.id)
		if err != nil || got.Plan != o.plan || len(got.Features) != len(o.features) {
			t.Fatalf("%s after the first start: %+v %v", o.id, got, err)
		}
	}
	// make org ORG=org_demo PLAN=hobby FEATURES= ; make org ORG=org_hobby PLAN=paid FEATURES=audit_log
	if err := store.SetOrg(ctx, "org_demo", "hobby", nil); err != nil {
		t.Fatal(err)
	}
	if err := store.SetOrg(ctx, "org_hobby", "paid", []string{"audit_log"}); err != nil {
		t.Fatal(err)
	}
	if err := seedDemoOrgs(ctx, store); err != nil { // restart
		t.Fatal(err)
	}
	if o, err := store.GetOrg(ctx, "org_demo"); err != nil || o.Plan != "hobby" || len(o.Features) != 0 {
		t.Errorf("org_demo after a restart: %+v %v; want plan hobby, no features", o, err)
	}
	if o, err := store.GetOrg(ctx, "org_hobby"); err != nil || o.Plan != "paid" || len(o.Features) != 1 {
		t.Errorf("org_hobby after a restart: %+v %v; want plan paid, audit_log", o, err)
	}
}
