package audit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/flowella/apikeys/shared/dynamo"
	"github.com/flowella/apikeys/shared/keystore"
)

// Writer is what writing audit records needs of DynamoDB.
type Writer interface {
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// Put stores r once: a record already there (a redelivery) is success.
func Put(ctx context.Context, db Writer, table string, r Record) error {
	item, err := attributevalue.MarshalMap(r)
	if err != nil {
		return fmt.Errorf("put audit record %s: %w", r.ID, err)
	}
	cond, err := expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name("sk"))).Build()
	if err != nil {
		return fmt.Errorf("put audit record %s: %w", r.ID, err)
	}
	_, err = db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(table),
		Item:                     item,
		ConditionExpression:      cond.Condition(),
		ExpressionAttributeNames: cond.Names(),
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("put audit record %s: %w", r.ID, err)
	}
	return nil
}

// Query selects audit records of one organisation.
type Query struct {
	KeyID  string
	Type   string
	Since  time.Time // inclusive; zero for none
	Until  time.Time // exclusive; zero for none
	Before string    // sort key of the last record seen (the cursor)
	Limit  int
}

// List returns records of org, newest first, and the cursor of the next
// page ("" when there is none).
func List(ctx context.Context, db dynamo.Querier, table, orgID string, q Query) ([]Record, string, error) {
	lower := "0"
	if !q.Since.IsZero() {
		lower = keystore.FormatTime(q.Since)
	}
	upper := "~" // after every time
	if !q.Until.IsZero() {
		upper = keystore.FormatTime(q.Until) // "T#id" > "T": a record at exactly Until is left out
	}
	if q.Before != "" && q.Before < upper {
		upper = q.Before
	}
	kc := expression.Key("org_id").Equal(expression.Value(orgID)).
		And(expression.Key("sk").Between(expression.Value(lower), expression.Value(upper)))
	b := expression.NewBuilder().WithKeyCondition(kc)
	var filter expression.ConditionBuilder
	hasFilter := false
	and := func(c expression.ConditionBuilder) {
		if hasFilter {
			filter = filter.And(c)
		} else {
			filter, hasFilter = c, true
		}
	}
	if q.KeyID != "" {
		and(expression.Name("key_id").Equal(expression.Value(q.KeyID)))
	}
	if q.Type != "" {
		and(expression.Name("type").Equal(expression.Value(q.Type)))
	}
	if q.Before != "" {
		// BETWEEN is inclusive; the cursor's own record was on the last page.
		and(expression.Name("sk").NotEqual(expression.Value(q.Before)))
	}
	if hasFilter {
		b = b.WithFilter(filter)
	}
	expr, err := b.Build()
	if err != nil {
		return nil, "", fmt.Errorf("list audit records: %w", err)
	}
	recs, err := dynamo.QueryPage[Record](ctx, db, dynamodb.QueryInput{
		TableName:                 aws.String(table),
		KeyConditionExpression:    expr.KeyCondition(),
		FilterExpression:          expr.Filter(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ScanIndexForward:          aws.Bool(false),
	}, q.Limit)
	if err != nil {
		return nil, "", fmt.Errorf("list audit records of %s: %w", orgID, err)
	}
	if len(recs) > q.Limit {
		recs = recs[:q.Limit]
		return recs, recs[len(recs)-1].SK, nil
	}
	return recs, "", nil
}

func parseTime(s string) (time.Time, error) { return time.Parse(keystore.TimeLayout, s) }

// Log reads one table of audit records.
type Log struct {
	DB    dynamo.Querier
	Table string
}

// List is List on the log's table.
func (l Log) List(ctx context.Context, orgID string, q Query) ([]Record, string, error) {
	return List(ctx, l.DB, l.Table, orgID, q)
}
