// Command orgctl sets an organisation's plan and feature flags, and what
// happens to its keys found in public (on_exposure), in AWS or in the local
// stack:
//
//	go run ./cmd/orgctl -org org_acme -plan paid -features audit_log                 # local stack
//	go run ./cmd/orgctl -table flowella-api-keys-prod-OrgsTable-XYZ -org org_acme -plan paid   # AWS
//	go run ./cmd/orgctl -org org_acme -on-exposure notify                            # that setting only
//
// Without -table it talks to the running local stack's DynamoDB Local.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/flowella/apikeys/shared/authz"
	"github.com/flowella/apikeys/shared/dynamo"
	"github.com/flowella/apikeys/shared/keystore"
)

func main() {
	org := flag.String("org", "", "organisation id")
	plan := flag.String("plan", "", "plan name from the scope catalog (e.g. hobby, paid)")
	features := flag.String("features", "", "comma-separated feature flags (e.g. audit_log); empty for none")
	table := flag.String("table", "", "OrgsTable name in AWS; empty for the local stack")
	onExposure := flag.String("on-exposure", "", "revoke or notify: what happens to the organisation's keys found in public (GitHub secret scanning); empty leaves it as it is")
	flag.Parse()
	if err := run(*org, *plan, *features, *table, *onExposure); err != nil {
		fmt.Fprintln(os.Stderr, "orgctl:", err)
		os.Exit(1)
	}
}

func run(org, plan, features, table, onExposure string) error {
	if org == "" || plan == "" && onExposure == "" {
		return fmt.Errorf("-org and -plan (or -on-exposure alone) are required")
	}
	if plan == "" && features != "" {
		return fmt.Errorf("-features needs -plan")
	}
	if onExposure != "" && onExposure != keystore.ExposureRevoke && onExposure != keystore.ExposureNotify {
		return fmt.Errorf("-on-exposure must be %s or %s", keystore.ExposureRevoke, keystore.ExposureNotify)
	}
	catalog, err := authz.Load()
	if err != nil {
		return err
	}
	if _, ok := catalog.Plans[plan]; !ok && plan != "" {
		return fmt.Errorf("unknown plan %q", plan)
	}
	var flags []string
	for _, f := range strings.Split(features, ",") {
		if f = strings.TrimSpace(f); f != "" {
			flags = append(flags, f)
		}
	}
	ctx := context.Background()
	endpoint := ""
	if table == "" {
		table = "OrgsTable"
		if endpoint, err = localEndpoint(); err != nil {
			return err
		}
	}
	db, err := dynamo.NewWithEndpoint(ctx, endpoint)
	if err != nil {
		return err
	}
	store := keystore.New(db, "", table)
	if plan != "" {
		if err := store.SetOrg(ctx, org, plan, flags); err != nil {
			return err
		}
	}
	if onExposure != "" {
		if err := store.SetOnExposure(ctx, org, onExposure); err != nil {
			return err
		}
	}
	o, err := store.GetOrg(ctx, org)
	if err != nil {
		return err
	}
	fmt.Printf("%s: plan %s, features [%s], on_exposure %s\n", org, o.Plan, strings.Join(o.Features, ", "), o.ExposurePolicy())
	return nil
}

// localEndpoint finds the running local stack's DynamoDB Local.
func localEndpoint() (string, error) {
	if e := os.Getenv("DYNAMODB_ENDPOINT"); e != "" {
		return e, nil
	}
	dir := os.Getenv("FLOWELLA_DATA_DIR")
	if dir == "" {
		dir = filepath.Join(".local", "data")
	}
	b, err := os.ReadFile(filepath.Join(dir, "dynamodb", "endpoint"))
	if err != nil {
		return "", fmt.Errorf("the local stack is not running (start it with make run), or pass -table for AWS")
	}
	return strings.TrimSpace(string(b)), nil
}
