package dynamofault_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/flowella/apikeys/local/dynamofault"
	"github.com/flowella/apikeys/local/dynamotest"
)

func TestParse(t *testing.T) {
	tests := []struct {
		spec string
		want dynamofault.Config
		err  bool
	}{
		{"", dynamofault.Config{}, false},
		{"conflicts=0.2,gsi_lag=2s", dynamofault.Config{Conflicts: 0.2, GSILag: 2 * time.Second}, false},
		{" throttle = 1 , seed=7 ,", dynamofault.Config{Throttle: 1, Seed: 7}, false},
		{"conflicts=1.5", dynamofault.Config{}, true},
		{"conflicts=-0.1", dynamofault.Config{}, true},
		{"gsi_lag=-1s", dynamofault.Config{}, true},
		{"gsi_lag=2", dynamofault.Config{}, true},
		{"lag=2s", dynamofault.Config{}, true},
		{"conflicts", dynamofault.Config{}, true},
	}
	for _, tt := range tests {
		got, err := dynamofault.Parse(tt.spec)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v, error %v", tt.spec, got, err, tt.want, tt.err)
		}
		if err == nil {
			if again, err := dynamofault.Parse(got.String()); err != nil || again != got {
				t.Errorf("Parse(%q.String()) = %+v, %v", tt.spec, again, err)
			}
		}
	}
	inj, err := dynamofault.FromEnv(func(string) string { return "" })
	if inj != nil || err != nil {
		t.Fatalf("unset: %v %v", inj, err)
	}
	if _, err := dynamofault.FromEnv(func(string) string { return "nope=1" }); err == nil {
		t.Fatal("a bad LOCAL_DYNAMODB_FAULTS is accepted")
	}
}

// setup is a DynamoDB Local client with inj injecting into it, on the
// template's tables.
func setup(t *testing.T, inj *dynamofault.Injector) (*dynamodb.Client, *dynamodb.Client, string) {
	t.Helper()
	raw, tables := dynamotest.Setup(t)
	keys := tables["KeysTable"]
	inj.KeySchema(keys, "key_hash")
	return dynamodb.New(raw.Options(), inj.Option()), raw, keys
}

func put(hash, org, id string) types.TransactWriteItem {
	item, _ := attributevalue.MarshalMap(map[string]string{"key_hash": hash, "org_id": org, "key_id": id})
	return types.TransactWriteItem{Put: &types.Put{Item: item}}
}

func TestConflictsCancelTransactionsAndWriteNothing(t *testing.T) {
	inj := dynamofault.New(dynamofault.Config{})
	db, raw, table := setup(t, inj)
	ctx := context.Background()
	items := []types.TransactWriteItem{put("h1", "org_a", "key_1"), put("h2", "org_a", "key_2")}
	for i := range items {
		items[i].Put.TableName = aws.String(table)
	}
	inj.ConflictNext(1)
	_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) || len(tce.CancellationReasons) != 2 {
		t.Fatalf("err = %v", err)
	}
	conflicts := 0
	for _, r := range tce.CancellationReasons {
		switch aws.ToString(r.Code) {
		case "TransactionConflict":
			conflicts++
		case "None":
		default:
			t.Fatalf("reason %s", aws.ToString(r.Code))
		}
	}
	if conflicts != 1 {
		t.Fatalf("%d items conflicted, want 1", conflicts)
	}
	if out, _ := raw.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table)}); out.Count != 0 {
		t.Fatalf("a cancelled transaction wrote %d items", out.Count)
	}
	// Only the next one: the retry goes through.
	if _, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items}); err != nil {
		t.Fatal(err)
	}
	// Single-item writes meet the transaction as TransactionConflictException.
	inj.ConflictNext(1)
	_, err = db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(table),
		Key:              map[string]types.AttributeValue{"key_hash": &types.AttributeValueMemberS{Value: "h1"}},
		UpdateExpression: aws.String("SET label = :l"), ExpressionAttributeValues: map[string]types.AttributeValue{":l": &types.AttributeValueMemberS{Value: "x"}}})
	var tc *types.TransactionConflictException
	if !errors.As(err, &tc) {
		t.Fatalf("update: %v", err)
	}
	if got := inj.Stats().Conflicts; got != 2 {
		t.Fatalf("%d conflicts counted, want 2", got)
	}
	// A share of 1 conflicts every write.
	inj.Set(dynamofault.Config{Conflicts: 1})
	for range 3 {
		if _, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items}); !errors.As(err, &tce) {
			t.Fatalf("with conflicts=1: %v", err)
		}
	}
}

func TestThrottlingIsRetriedByTheSDK(t *testing.T) {
	inj := dynamofault.New(dynamofault.Config{})
	db, _, table := setup(t, inj)
	ctx := context.Background()
	get := func() error {
		_, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table),
			Key: map[string]types.AttributeValue{"key_hash": &types.AttributeValueMemberS{Value: "h1"}}})
		return err
	}
	// The SDK makes 4 attempts at DynamoDB: 2 throttled attempts are absorbed.
	inj.ThrottleNext(2)
	if err := get(); err != nil {
		t.Fatalf("2 throttled attempts: %v", err)
	}
	if got := inj.Stats().Throttles; got != 2 {
		t.Fatalf("%d throttles, want 2", got)
	}
	inj.ThrottleNext(10)
	err := get()
	var pte *types.ProvisionedThroughputExceededException
	var te *types.ThrottlingException
	if !errors.As(err, &pte) && !errors.As(err, &te) {
		t.Fatalf("10 throttled attempts: %v", err)
	}
	if got := inj.Stats().Throttles; got != 6 {
		t.Fatalf("%d throttles, want 2 + the SDK's 4 attempts", got)
	}
}

func TestIndexLagHidesFreshWrites(t *testing.T) {
	inj := dynamofault.New(dynamofault.Config{GSILag: time.Hour})
	db, raw, table := setup(t, inj)
	ctx := context.Background()
	it := put("h1", "org_a", "key_1")
	it.Put.TableName = aws.String(table)
	if _, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{it}}); err != nil {
		t.Fatal(err)
	}
	query := func(c *dynamodb.Client) int32 {
		out, err := c.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(table), IndexName: aws.String("org-keys"),
			KeyConditionExpression:    aws.String("org_id = :o"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":o": &types.AttributeValueMemberS{Value: "org_a"}}})
		if err != nil {
			t.Fatal(err)
		}
		if int(out.Count) != len(out.Items) {
			t.Fatalf("Count %d for %d items", out.Count, len(out.Items))
		}
		return out.Count
	}
	if n := query(db); n != 0 {
		t.Fatalf("the index shows a write made just now (%d items)", n)
	}
	if n := query(raw); n != 1 {
		t.Fatalf("DynamoDB Local's own index: %d items", n)
	}
	// The table itself is read strongly: no lag.
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"key_hash": &types.AttributeValueMemberS{Value: "h1"}}})
	if err != nil || out.Item == nil {
		t.Fatalf("strong read: %v %v", out, err)
	}
	// Once the lag has passed, the index shows it.
	inj.Set(dynamofault.Config{GSILag: time.Millisecond})
	time.Sleep(2 * time.Millisecond)
	if n := query(db); n != 1 {
		t.Fatalf("after the lag the index shows %d items", n)
	}
	if inj.Stats().Hidden != 1 {
		t.Fatalf("hidden = %d", inj.Stats().Hidden)
	}
}

func TestNilInjectorInjectsNothing(t *testing.T) {
	var inj *dynamofault.Injector
	raw, tables := dynamotest.Setup(t)
	db := dynamodb.New(raw.Options(), inj.Option())
	if _, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(tables["KeysTable"]),
		Key: map[string]types.AttributeValue{"key_hash": &types.AttributeValueMemberS{Value: "h"}}}); err != nil {
		t.Fatal(err)
	}
}
