package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/flowella/apikeys/shared/dynamo"
	"github.com/flowella/apikeys/shared/keystore"
)

// Writer is what writing audit records needs of DynamoDB: conditional puts,
// alone or grouped in a transaction.
type Writer interface {
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// putInput is the conditional put of r: it never overwrites a record, so a
// redelivered stream record writes nothing.
func putInput(table string, r Record) (*dynamodb.PutItemInput, error) {
	item, err := attributevalue.MarshalMap(r)
	if err != nil {
		return nil, fmt.Errorf("put audit record %s: %w", r.ID, err)
	}
	cond, err := expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name("sk"))).Build()
	if err != nil {
		return nil, fmt.Errorf("put audit record %s: %w", r.ID, err)
	}
	return &dynamodb.PutItemInput{
		TableName:                aws.String(table),
		Item:                     item,
		ConditionExpression:      cond.Condition(),
		ExpressionAttributeNames: cond.Names(),
	}, nil
}

// Put stores r once: a record already there (a redelivery) is success.
func Put(ctx context.Context, db Writer, table string, r Record) error {
	in, err := putInput(table, r)
	if err != nil {
		return err
	}
	_, err = db.PutItem(ctx, in)
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("put audit record %s: %w", r.ID, err)
	}
	return nil
}

// groupSize is how many records one transaction writes (DynamoDB allows 100
// actions, 4 MB).
const groupSize = 25

// PutAll stores each record once, as Put does, and returns each one's
// error (nil when it is stored, or was already). Records go in groups of 25
// conditional puts, one TransactWriteItems each: one request instead of 25,
// and one disk commit in DynamoDB Local, whose commits are what limits the
// local stack. Groups are written at most concurrency at a time. A group
// cancelled only because some of its records exist already is written again
// without them; one that fails otherwise (throttling, an outage) is written
// record by record, so that each record's own outcome is known.
func PutAll(ctx context.Context, db Writer, table string, recs []Record, concurrency int) []error {
	errs := make([]error, len(recs))
	var single []int // records whose group failed
	var mu sync.Mutex
	bounded(concurrency, (len(recs)+groupSize-1)/groupSize, func(g int) {
		idx := make([]int, 0, groupSize)
		for i := g * groupSize; i < min((g+1)*groupSize, len(recs)); i++ {
			idx = append(idx, i)
		}
		rest, err := putGroup(ctx, db, table, recs, idx)
		if err != nil {
			mu.Lock()
			single = append(single, rest...)
			mu.Unlock()
		}
	})
	bounded(concurrency, len(single), func(j int) {
		i := single[j]
		errs[i] = Put(ctx, db, table, recs[i])
	})
	return errs
}

// putGroup writes recs[idx] in one transaction, dropping the records that
// exist already. On another failure it returns the records still unwritten.
func putGroup(ctx context.Context, db Writer, table string, recs []Record, idx []int) ([]int, error) {
	for len(idx) > 0 {
		items := make([]types.TransactWriteItem, len(idx))
		for k, i := range idx {
			in, err := putInput(table, recs[i])
			if err != nil {
				return idx, err
			}
			items[k] = types.TransactWriteItem{Put: &types.Put{TableName: in.TableName, Item: in.Item,
				ConditionExpression: in.ConditionExpression, ExpressionAttributeNames: in.ExpressionAttributeNames}}
		}
		_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			return nil, nil
		}
		var canceled *types.TransactionCanceledException
		if !errors.As(err, &canceled) || len(canceled.CancellationReasons) != len(idx) {
			return idx, err
		}
		var left []int
		for k, reason := range canceled.CancellationReasons {
			switch aws.ToString(reason.Code) {
			case "ConditionalCheckFailed": // written before: done
			case "None", "":
				left = append(left, idx[k])
			default:
				return idx, err
			}
		}
		if len(left) == len(idx) {
			return idx, err
		}
		idx = left
	}
	return nil, nil
}

// bounded runs fn(0) … fn(n-1), at most limit at a time, and waits for all.
func bounded(limit, n int, fn func(int)) {
	sem := make(chan struct{}, max(limit, 1))
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(i)
		}()
	}
	wg.Wait()
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
	if q.Before != "" {
		if q.Before < lower {
			return nil, "", nil // past the window's oldest record
		}
		if q.Before < upper {
			upper = q.Before
		}
	}
	if upper <= lower {
		return nil, "", nil // an empty window: DynamoDB refuses BETWEEN with its bounds inverted
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
	if hasFilter {
		b = b.WithFilter(filter)
	}
	expr, err := b.Build()
	if err != nil {
		return nil, "", fmt.Errorf("list audit records: %w", err)
	}
	in := dynamodb.QueryInput{
		TableName:                 aws.String(table),
		KeyConditionExpression:    expr.KeyCondition(),
		FilterExpression:          expr.Filter(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ScanIndexForward:          aws.Bool(false),
	}
	if q.Before != "" {
		// The next page starts after the cursor's record. (A filter on the
		// sort key instead is refused by DynamoDB: key attributes can only
		// be in the key condition.)
		in.ExclusiveStartKey = map[string]types.AttributeValue{
			"org_id": &types.AttributeValueMemberS{Value: orgID},
			"sk":     &types.AttributeValueMemberS{Value: q.Before},
		}
	}
	recs, err := dynamo.QueryPage[Record](ctx, db, in, q.Limit)
	if err != nil {
		return nil, "", fmt.Errorf("list audit records of %s: %w", orgID, err)
	}
	if len(recs) > q.Limit {
		recs = recs[:q.Limit]
		return recs, recs[len(recs)-1].SK, nil
	}
	return recs, "", nil
}

// Log reads one table of audit records.
type Log struct {
	DB    dynamo.Querier
	Table string
}

// List is List on the log's table.
func (l Log) List(ctx context.Context, orgID string, q Query) ([]Record, string, error) {
	return List(ctx, l.DB, l.Table, orgID, q)
}
