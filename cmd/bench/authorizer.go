package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/flowella/apikeys/shared/apikey"
	"github.com/flowella/apikeys/shared/authorizer"
	"github.com/flowella/apikeys/shared/authz"
	"github.com/flowella/apikeys/shared/dynamo"
	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/samtemplate"
	"github.com/flowella/apikeys/shared/session"
	"github.com/flowella/apikeys/shared/stamp"
)

// authorizerFigures compares the authorizer's whole Lambda path — a REST
// API REQUEST event as JSON bytes in, the policy as JSON bytes out, through
// lambda.NewHandler(handler).Invoke as the runtime calls it — with the one
// strongly consistent GetItem it makes, of the same item on the same
// DynamoDB Local through the same client, alternating the two.
type authorizerFigures struct {
	samples            int
	auth, get          []time.Duration
	allocsAuth, allocs float64
	load               string
}

// authorizerBench needs DYNAMODB_ENDPOINT (scripts/dynamodb-local.sh run).
func authorizerBench(ctx context.Context, root string, samples int) (*authorizerFigures, error) {
	endpoint := os.Getenv("DYNAMODB_ENDPOINT")
	if endpoint == "" {
		return nil, fmt.Errorf("DYNAMODB_ENDPOINT is not set: run under scripts/dynamodb-local.sh run --")
	}
	db, err := dynamo.NewWithEndpoint(ctx, endpoint)
	if err != nil {
		return nil, err
	}
	tables, cleanup, err := createTables(ctx, db, root)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	store := keystore.New(db, tables["KeysTable"], tables["OrgsTable"])
	if err := store.SetOrg(ctx, "org_bench", "paid", nil); err != nil {
		return nil, err
	}
	key, err := apikey.Generate(apikey.EnvLive)
	if err != nil {
		return nil, err
	}
	if err := store.Create(ctx, keystore.Key{Hash: key.Hash(), ID: keystore.NewID(), OrgID: "org_bench",
		Prefix: key.Prefix(), Label: "bench", Scopes: []string{"*"}, Status: keystore.StatusActive,
		CreatedAt: stamp.Of(time.Now())}); err != nil {
		return nil, err
	}
	catalog, err := authz.Load()
	if err != nil {
		return nil, err
	}
	sessions, err := session.NewVerifier(ctx, session.Config{HS256Secret: "bench-secret-0123456789abcdef0123456789"})
	if err != nil {
		return nil, err
	}
	// The decision log is written as in Lambda (JSON, lambdacontext's
	// attributes), to nowhere.
	log := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{ReplaceAttr: lambdacontext.ReplaceAttr}))
	a := authorizer.New(authorizer.Config{Keys: store, Orgs: store, Catalog: catalog, Sessions: sessions, Env: apikey.EnvLive, Log: log})
	h := lambda.NewHandler(a)
	event, err := requestEvent(root, key.Secret())
	if err != nil {
		return nil, err
	}
	lctx := lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"})
	authorize := func() error {
		out, err := h.Invoke(lctx, event)
		if err != nil {
			return err
		}
		if !bytes.Contains(out, []byte(`"Effect":"Allow"`)) {
			return fmt.Errorf("authorizer did not allow: %s", out)
		}
		return nil
	}
	getIn := &dynamodb.GetItemInput{TableName: aws.String(tables["KeysTable"]), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"key_hash": &types.AttributeValueMemberS{Value: key.Hash()}}}
	getItem := func() error {
		out, err := db.GetItem(lctx, getIn)
		if err == nil && out.Item == nil {
			err = fmt.Errorf("GetItem found no item")
		}
		return err
	}
	// Warm up both (connections, the plan cache, the first last-used write).
	for range 300 {
		if err := authorize(); err != nil {
			return nil, err
		}
		if err := getItem(); err != nil {
			return nil, err
		}
	}
	f := &authorizerFigures{samples: samples, load: loadAverage()}
	for i := range samples {
		// Alternate which goes first, so neither always follows the other.
		first, second := authorize, getItem
		if i%2 == 1 {
			first, second = getItem, authorize
		}
		t0 := time.Now()
		if err := first(); err != nil {
			return nil, err
		}
		t1 := time.Now()
		if err := second(); err != nil {
			return nil, err
		}
		t2 := time.Now()
		if i%2 == 0 {
			f.auth, f.get = append(f.auth, t1.Sub(t0)), append(f.get, t2.Sub(t1))
		} else {
			f.get, f.auth = append(f.get, t1.Sub(t0)), append(f.auth, t2.Sub(t1))
		}
	}
	var failed error
	f.allocsAuth = testing.AllocsPerRun(500, func() {
		if err := authorize(); err != nil {
			failed = err
		}
	})
	f.allocs = testing.AllocsPerRun(500, func() {
		if err := getItem(); err != nil {
			failed = err
		}
	})
	return f, failed
}

// requestEvent is the sample REST REQUEST authorizer event with secret as
// its bearer key.
func requestEvent(root, secret string) ([]byte, error) {
	raw, err := os.ReadFile(filepath.Join(root, "events", "authorizer-request.json"))
	if err != nil {
		return nil, err
	}
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, err
	}
	ev["headers"].(map[string]any)["Authorization"] = "Bearer " + secret
	ev["multiValueHeaders"].(map[string]any)["Authorization"] = []string{"Bearer " + secret}
	return json.Marshal(ev)
}

// createTables makes the template's tables under names of their own.
func createTables(ctx context.Context, db *dynamodb.Client, root string) (map[string]string, func(), error) {
	tpl, err := samtemplate.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		return nil, nil, err
	}
	prefix := fmt.Sprintf("bench%d_", time.Now().UnixNano())
	inputs, err := tpl.Tables(func(id string) string { return prefix + id })
	if err != nil {
		return nil, nil, err
	}
	names := map[string]string{}
	cleanup := func() {
		for _, n := range names {
			_, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(n)})
		}
	}
	for id, in := range inputs {
		if _, err := db.CreateTable(ctx, in); err != nil {
			cleanup()
			return nil, nil, fmt.Errorf("create table %s: %w", id, err)
		}
		names[id] = aws.ToString(in.TableName)
	}
	return names, cleanup, nil
}

func (f *authorizerFigures) markdown() string {
	ap50, ap99 := percentile(f.auth, 50), percentile(f.auth, 99)
	gp50, gp99 := percentile(f.get, 50), percentile(f.get, 99)
	r50, r99 := float64(ap50)/float64(gp50), float64(ap99)/float64(gp99)
	var b strings.Builder
	fmt.Fprintf(&b, "### The authorizer's Lambda path against one GetItem\n\n")
	fmt.Fprintf(&b, "A REST API REQUEST authorizer event as JSON bytes in, the policy as JSON bytes out, through\n"+
		"`lambda.NewHandler(handler).Invoke` (the decision log written as JSON, to nowhere), against a bare\n"+
		"strongly consistent GetItem of the same key item through the same client, on the same in-memory\n"+
		"DynamoDB Local; %d calls of each, alternating, after 300 of each to warm up. Load average: %s.\n\n", f.samples, f.load)
	fmt.Fprintf(&b, "| | authorizer | GetItem | ratio | target | |\n| --- | --- | --- | --- | --- | --- |\n")
	fmt.Fprintf(&b, "| p50 | %s | %s | **%.2f×** | ≤ 1.10× | %s |\n", ms(ap50), ms(gp50), r50, verdict(r50 <= 1.10))
	fmt.Fprintf(&b, "| p99 | %s | %s | **%.2f×** | ≤ 1.25× | %s |\n", ms(ap99), ms(gp99), r99, verdict(r99 <= 1.25))
	fmt.Fprintf(&b, "| allocations per call | %.0f | %.0f | %.2f× | | |\n\n", f.allocsAuth, f.allocs, f.allocsAuth/f.allocs)
	fmt.Fprintf(&b, "```sh\nscripts/dynamodb-local.sh run -- go run ./cmd/bench -only authorizer\n```\n")
	return b.String()
}
