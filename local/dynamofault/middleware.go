package dynamofault

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
)

// Option is the client option that injects i's faults:
//
//	db := dynamodb.New(base.Options(), injector.Option())
//
// A nil injector injects nothing. Conflicts and throttling are decided per
// attempt, after the SDK's retry middleware, so the SDK retries throttling
// as it would in AWS; the index lag filters what Query and Scan return.
func (i *Injector) Option() func(*dynamodb.Options) {
	return func(o *dynamodb.Options) {
		if i == nil {
			return
		}
		// Clip: clients built from one Options must not share appends.
		o.APIOptions = append(slices.Clip(o.APIOptions), i.addMiddleware)
	}
}

type paramsKey struct{}

func (i *Injector) addMiddleware(s *middleware.Stack) error {
	if err := s.Initialize.Add(middleware.InitializeMiddlewareFunc("DynamoFaultIndexLag",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			ctx = context.WithValue(ctx, paramsKey{}, in.Parameters)
			out, md, err := next.HandleInitialize(ctx, in)
			if err == nil {
				i.observe(in.Parameters, out.Result)
			}
			return out, md, err
		}), middleware.After); err != nil {
		return err
	}
	inject := middleware.FinalizeMiddlewareFunc("DynamoFault",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			if err := i.fault(ctx.Value(paramsKey{})); err != nil {
				return middleware.FinalizeOutput{}, middleware.Metadata{}, err
			}
			return next.HandleFinalize(ctx, in)
		})
	if err := s.Finalize.Insert(inject, "Retry", middleware.After); err != nil {
		return s.Finalize.Add(inject, middleware.After)
	}
	return nil
}

// fault returns the error this attempt fails with, if any.
func (i *Injector) fault(params any) error {
	switch params.(type) {
	case *dynamodb.GetItemInput, *dynamodb.PutItemInput, *dynamodb.UpdateItemInput, *dynamodb.DeleteItemInput,
		*dynamodb.QueryInput, *dynamodb.ScanInput, *dynamodb.TransactWriteItemsInput, *dynamodb.TransactGetItemsInput,
		*dynamodb.BatchGetItemInput, *dynamodb.BatchWriteItemInput:
	default:
		return nil // control plane: tables are not throttled here
	}
	if i.throttle() {
		msg := "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API."
		if i.pick(2) == 0 {
			return &types.ProvisionedThroughputExceededException{Message: aws.String(msg)}
		}
		return &types.ThrottlingException{Message: aws.String("Throughput exceeds the current capacity for one or more global secondary indexes. DynamoDB is automatically scaling your index so please try again shortly.")}
	}
	switch in := params.(type) {
	case *dynamodb.TransactWriteItemsInput:
		if len(in.TransactItems) > 0 && i.conflict() {
			return transactionConflict(len(in.TransactItems), i.pick(len(in.TransactItems)))
		}
	case *dynamodb.PutItemInput, *dynamodb.UpdateItemInput, *dynamodb.DeleteItemInput:
		if i.conflict() {
			return &types.TransactionConflictException{Message: aws.String("Transaction is ongoing for the item")}
		}
	}
	return nil
}

// transactionConflict is DynamoDB's answer to a transaction of n items whose
// item at held is being changed by another transaction.
func transactionConflict(n, held int) error {
	reasons := make([]types.CancellationReason, n)
	codes := make([]string, n)
	for j := range reasons {
		reasons[j] = types.CancellationReason{Code: aws.String("None")}
		codes[j] = "None"
	}
	reasons[held] = types.CancellationReason{Code: aws.String("TransactionConflict"), Message: aws.String("Transaction is ongoing for the item")}
	codes[held] = "TransactionConflict"
	return &types.TransactionCanceledException{
		Message:             aws.String("Transaction cancelled, please refer cancellation reasons for specific reasons [" + strings.Join(codes, ", ") + "]"),
		CancellationReasons: reasons,
	}
}

// observe notes the items a successful write changed, and leaves out of an
// index query's answer the items changed within the lag.
func (i *Injector) observe(params, result any) {
	i.mu.Lock()
	defer i.mu.Unlock()
	now := i.now()
	note := func(table string, item map[string]types.AttributeValue) {
		if id, ok := i.itemKey(table, item); ok {
			i.written[id] = now
		}
	}
	switch in := params.(type) {
	case *dynamodb.PutItemInput:
		note(aws.ToString(in.TableName), in.Item)
	case *dynamodb.UpdateItemInput:
		note(aws.ToString(in.TableName), in.Key)
	case *dynamodb.DeleteItemInput:
		note(aws.ToString(in.TableName), in.Key)
	case *dynamodb.TransactWriteItemsInput:
		for _, t := range in.TransactItems {
			switch {
			case t.Put != nil:
				note(aws.ToString(t.Put.TableName), t.Put.Item)
			case t.Update != nil:
				note(aws.ToString(t.Update.TableName), t.Update.Key)
			case t.Delete != nil:
				note(aws.ToString(t.Delete.TableName), t.Delete.Key)
			}
		}
	case *dynamodb.BatchWriteItemInput:
		for table, ws := range in.RequestItems {
			for _, w := range ws {
				switch {
				case w.PutRequest != nil:
					note(table, w.PutRequest.Item)
				case w.DeleteRequest != nil:
					note(table, w.DeleteRequest.Key)
				}
			}
		}
	case *dynamodb.QueryInput:
		if out, ok := result.(*dynamodb.QueryOutput); ok && in.IndexName != nil {
			out.Items, out.Count = i.caughtUp(aws.ToString(in.TableName), out.Items, out.Count, now)
		}
	case *dynamodb.ScanInput:
		if out, ok := result.(*dynamodb.ScanOutput); ok && in.IndexName != nil {
			out.Items, out.Count = i.caughtUp(aws.ToString(in.TableName), out.Items, out.Count, now)
		}
	}
	i.forget(now)
}

// caughtUp keeps the items the index has caught up with. Called with i.mu held.
func (i *Injector) caughtUp(table string, items []map[string]types.AttributeValue, count int32, now time.Time) ([]map[string]types.AttributeValue, int32) {
	if i.cfg.GSILag <= 0 {
		return items, count
	}
	kept := items[:0:0]
	for _, it := range items {
		if id, ok := i.itemKey(table, it); ok {
			if at, seen := i.written[id]; seen && now.Sub(at) < i.cfg.GSILag {
				i.stats.Hidden++
				count--
				continue
			}
		}
		kept = append(kept, it)
	}
	return kept, count
}

// forget drops writes the index has long caught up with, so the map stays
// small. Called with i.mu held.
func (i *Injector) forget(now time.Time) {
	if len(i.written) < 4096 {
		return
	}
	keep := max(i.cfg.GSILag, time.Minute)
	for id, at := range i.written {
		if now.Sub(at) > keep {
			delete(i.written, id)
		}
	}
}

// itemKey identifies an item of table by its key attributes. Called with
// i.mu held.
func (i *Injector) itemKey(table string, item map[string]types.AttributeValue) (string, bool) {
	attrs := i.keys[table]
	if len(attrs) == 0 {
		return "", false
	}
	parts := []string{table}
	for _, a := range attrs {
		v, ok := item[a]
		if !ok {
			return "", false
		}
		parts = append(parts, a+"="+scalar(v))
	}
	sort.Strings(parts[1:])
	return strings.Join(parts, "\x00"), true
}

func scalar(v types.AttributeValue) string {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return "S:" + v.Value
	case *types.AttributeValueMemberN:
		return "N:" + v.Value
	case *types.AttributeValueMemberB:
		return "B:" + base64.StdEncoding.EncodeToString(v.Value)
	}
	return fmt.Sprintf("%T", v)
}
