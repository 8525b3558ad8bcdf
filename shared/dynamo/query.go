package dynamo

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Querier runs queries.
type Querier interface {
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// QueryPage runs in until it has found more than limit items or the query is
// exhausted, following DynamoDB's pages (a filter can leave a page short),
// and returns at most limit+1 items: one more than asked tells the caller
// there is a next page. It starts after in.ExclusiveStartKey when set.
func QueryPage[T any](ctx context.Context, db Querier, in dynamodb.QueryInput, limit int) ([]T, error) {
	return QueryPageWith(ctx, db, in, limit, func(item map[string]types.AttributeValue) (T, error) {
		var v T
		err := attributevalue.UnmarshalMap(item, &v)
		return v, err
	})
}

// QueryPageWith is QueryPage with each item read by decode.
func QueryPageWith[T any](ctx context.Context, db Querier, in dynamodb.QueryInput, limit int,
	decode func(map[string]types.AttributeValue) (T, error)) ([]T, error) {
	var out []T
	start := in.ExclusiveStartKey
	for {
		in.Limit = aws.Int32(int32(limit + 1 - len(out)))
		in.ExclusiveStartKey = start
		page, err := db.Query(ctx, &in)
		if err != nil {
			return nil, err
		}
		for _, item := range page.Items {
			v, err := decode(item)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		if len(out) > limit || page.LastEvaluatedKey == nil {
			return out, nil
		}
		start = page.LastEvaluatedKey
	}
}
