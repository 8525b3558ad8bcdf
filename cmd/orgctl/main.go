// Command orgctl sets an organisation's plan and feature flags, and what
// happens to its keys found in public (on_exposure), in AWS or in the local
// stack:
//
//	go run ./cmd/orgctl -org org_acme -plan paid -features audit_log                 # local stack
//	go run ./cmd/orgctl -table flowella-api-keys-prod-OrgsTable-XYZ -org org_acme -plan paid   # AWS
//	go run ./cmd/orgctl -org org_acme -on-exposure notify                            # that setting only
//	go run ./cmd/orgctl -org org_acme -features audit_log                            # keeps the plan
//
// Without -plan an existing organisation keeps its plan (a new one is
// refused); without -features it keeps its features.
//
// Without -table it talks to the running local stack's DynamoDB Local.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/flowella/apikeys/shared/authz"
	"github.com/flowella/apikeys/shared/dynamo"
	"github.com/flowella/apikeys/shared/keystore"
)

func main() {
	org := flag.String("org", "", "organisation id")
	plan := flag.String("plan", "", "plan name from the scope catalog (e.g. hobby, paid); empty keeps the organisation's plan")
	features := flag.String("features", "", "comma-separated feature flags (e.g. audit_log); empty for none; not given keeps them")
	table := flag.String("table", "", "OrgsTable name in AWS; empty for the local stack")
	onExposure := flag.String("on-exposure", "", "revoke or notify: what happens to the organisation's keys found in public (GitHub secret scanning); empty leaves it as it is")
	flag.Parse()
	featuresGiven := false
	flag.Visit(func(f *flag.Flag) { featuresGiven = featuresGiven || f.Name == "features" })
	ctx := context.Background()
	tableName, endpoint := *table, ""
	if tableName == "" {
		tableName = "OrgsTable"
		var err error
		if endpoint, err = localEndpoint(); err != nil {
			fmt.Fprintln(os.Stderr, "orgctl:", err)
			os.Exit(1)
		}
	}
	db, err := dynamo.NewWithEndpoint(ctx, endpoint)
	if err == nil {
		var f *string
		if featuresGiven {
			f = features
		}
		err = run(ctx, keystore.New(db, "", tableName), os.Stdout, *org, *plan, f, *onExposure)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "orgctl:", err)
		os.Exit(1)
	}
}

// run sets what was given of org's plan, features (nil: keep them) and
// on_exposure, and prints the organisation as it then stands. Without a
// plan an existing organisation keeps its own; a new one needs one.
func run(ctx context.Context, store *keystore.Store, out io.Writer, org, plan string, features *string, onExposure string) error {
	if org == "" {
		return fmt.Errorf("-org is required")
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
	current, err := store.GetOrg(ctx, org)
	exists := err == nil
	if err != nil && !errors.Is(err, keystore.ErrOrgNotFound) {
		return err
	}
	if !exists && plan == "" {
		return fmt.Errorf("%s does not exist yet: give it a plan (-plan, or PLAN= with make org), one of %s", org, planNames(catalog))
	}
	if plan != "" || features != nil {
		if plan == "" {
			plan = current.Plan
		}
		flags := current.Features
		if features != nil || !exists {
			flags = nil
			if features != nil {
				for _, f := range strings.Split(*features, ",") {
					if f = strings.TrimSpace(f); f != "" {
						flags = append(flags, f)
					}
				}
			}
		}
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
	fmt.Fprintf(out, "%s: plan %s, features [%s], on_exposure %s\n", org, o.Plan, strings.Join(o.Features, ", "), o.ExposurePolicy())
	return nil
}

func planNames(c *authz.Catalog) string {
	names := make([]string, 0, len(c.Plans))
	for n := range c.Plans {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
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
