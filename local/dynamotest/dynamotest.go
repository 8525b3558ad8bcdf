// Package dynamotest gives integration tests their own tables on the DynamoDB
// Local that `make test` starts, created from template.yaml.
package dynamotest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/flowella/apikeys/shared/dynamo"
	"github.com/flowella/apikeys/shared/samtemplate"
)

var counter atomic.Int64

// Tables are one test's tables: logical id → table name.
type Tables map[string]string

// Setup creates every table of template.yaml under a name unique to this
// test and returns the client and the names. It fails the test when
// DYNAMODB_ENDPOINT is not set: storage tests must not pass silently.
func Setup(t testing.TB) (*dynamodb.Client, Tables) {
	t.Helper()
	endpoint := os.Getenv("DYNAMODB_ENDPOINT")
	if endpoint == "" {
		t.Fatal("DYNAMODB_ENDPOINT is not set: run the tests with `make test`, which starts DynamoDB Local")
	}
	ctx := context.Background()
	db, err := dynamo.NewWithEndpoint(ctx, endpoint)
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := samtemplate.Load(TemplatePath(t))
	if err != nil {
		t.Fatal(err)
	}
	prefix := fmt.Sprintf("t%d_%d_", time.Now().UnixNano(), counter.Add(1))
	inputs, err := tpl.Tables(func(id string) string { return prefix + id })
	if err != nil {
		t.Fatal(err)
	}
	names := Tables{}
	for id, in := range inputs {
		if _, err := db.CreateTable(ctx, in); err != nil {
			t.Fatalf("create table %s: %v", id, err)
		}
		names[id] = aws.ToString(in.TableName)
	}
	t.Cleanup(func() {
		for _, name := range names {
			_, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
		}
	})
	return db, names
}

// TemplatePath finds template.yaml at the module root above the working directory.
func TemplatePath(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		p := filepath.Join(dir, "template.yaml")
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("template.yaml not found above the test's directory")
		}
		dir = parent
	}
}
