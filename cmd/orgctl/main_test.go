package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/flowella/apikeys/local/dynamotest"
	"github.com/flowella/apikeys/shared/keystore"
)

// Issue 13, defect 2: make org without PLAN keeps an organisation's plan,
// and refuses, saying why, for one that does not exist.
func TestRunWithoutPlan(t *testing.T) {
	db, tables := dynamotest.Setup(t)
	store := keystore.New(db, tables["KeysTable"], tables["OrgsTable"])
	ctx := context.Background()
	ptr := func(s string) *string { return &s }

	tests := []struct {
		name       string
		org, plan  string
		features   *string
		onExposure string
		want       string // the printed line, or the error's start
		wantErr    bool
	}{
		{name: "a new org without a plan is refused", org: "org_x", want: "org_x does not exist yet: give it a plan", wantErr: true},
		{name: "a new org with a plan", org: "org_x", plan: "paid", features: ptr("audit_log"),
			want: "org_x: plan paid, features [audit_log], on_exposure revoke"},
		{name: "features alone keep the plan", org: "org_x", features: ptr(""),
			want: "org_x: plan paid, features [], on_exposure revoke"},
		{name: "on_exposure alone keeps plan and features", org: "org_x", onExposure: "notify",
			want: "org_x: plan paid, features [], on_exposure notify"},
		{name: "a plan alone keeps the features", org: "org_x", plan: "hobby",
			want: "org_x: plan hobby, features [], on_exposure notify"},
		{name: "nothing but the org prints it", org: "org_x",
			want: "org_x: plan hobby, features [], on_exposure notify"},
		{name: "an unknown plan", org: "org_x", plan: "gold", want: `unknown plan "gold"`, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(ctx, store, &out, tc.org, tc.plan, tc.features, tc.onExposure)
			if tc.wantErr {
				if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
					t.Fatalf("err %v; want %q…", err, tc.want)
				}
				return
			}
			if err != nil || strings.TrimSpace(out.String()) != tc.want {
				t.Fatalf("printed %q, err %v; want %q", out.String(), err, tc.want)
			}
		})
	}
}
