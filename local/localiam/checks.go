package localiam

import (
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
)

// check is one IAM check a call makes.
type check struct {
	Request
	table string // local table name; "" for stream and account-level checks
}

// tableInfo is what the checks need of a table: its logical id (for the
// record) and the partition keys of the table and its indexes.
type tableInfo struct {
	logical  string
	hashKey  string
	indexKey map[string]string
}

// requestBuilder turns an operation's input into the checks DynamoDB makes.
type requestBuilder struct {
	region string
	tables map[string]tableInfo // by local name
}

func (b *requestBuilder) tableArn(table string) string {
	return "arn:aws:dynamodb:" + b.region + ":" + Account + ":table/" + table
}

// item describes one item-level access for the condition keys.
type item struct {
	table, index string
	key          map[string]types.AttributeValue // the key or whole item
	keyExpr      *string                         // key condition (Query)
	values       map[string]types.AttributeValue
	names        map[string]string
	exprs        []*string // expressions whose top-level names are accessed
	attrs        []string  // attribute names given directly
	returnValues string
	sel          string
	enclosing    string
}

func (b *requestBuilder) check(action string, it item) check {
	resource := b.tableArn(it.table)
	if it.index != "" {
		resource += "/index/" + it.index
	}
	ctx := map[string][]string{}
	attrs := map[string]bool{}
	for k := range it.key {
		attrs[k] = true
	}
	for _, a := range it.attrs {
		attrs[a] = true
	}
	for _, e := range it.exprs {
		topNames(attrs, e, it.names)
	}
	if len(attrs) > 0 {
		ctx["dynamodb:Attributes"] = sortedKeys(attrs)
	}
	if lead, ok := b.leadingKey(it); ok {
		ctx["dynamodb:LeadingKeys"] = []string{lead}
	}
	if it.returnValues != "" {
		ctx["dynamodb:ReturnValues"] = []string{it.returnValues}
	}
	if it.sel != "" {
		ctx["dynamodb:Select"] = []string{it.sel}
	}
	if it.enclosing != "" {
		ctx["dynamodb:EnclosingOperation"] = []string{it.enclosing}
	}
	return check{Request: Request{Action: "dynamodb:" + action, Resource: resource, Context: ctx}, table: it.table}
}

// leadingKey is the partition key value an item access names.
func (b *requestBuilder) leadingKey(it item) (string, bool) {
	info, ok := b.tables[it.table]
	if !ok {
		return "", false
	}
	hash := info.hashKey
	if it.index != "" {
		hash = info.indexKey[it.index]
	}
	if hash == "" {
		return "", false
	}
	if v, ok := it.key[hash]; ok {
		return scalar(v)
	}
	if ph, ok := equalsValue(it.keyExpr, it.names, hash); ok {
		return scalar(it.values[ph])
	}
	return "", false
}

func scalar(v types.AttributeValue) (string, bool) {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return x.Value, true
	case *types.AttributeValueMemberN:
		return x.Value, true
	case *types.AttributeValueMemberB:
		return string(x.Value), true
	}
	return "", false
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func mapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// dynamoChecks maps a DynamoDB operation to its IAM checks. Transactions
// check each item's own action on its table (PutItem, UpdateItem,
// DeleteItem, ConditionCheckItem, GetItem); batches check BatchWriteItem or
// BatchGetItem on each item's table, as IAM defines those actions.
func (b *requestBuilder) dynamoChecks(params any) ([]check, error) {
	switch in := params.(type) {
	case *dynamodb.GetItemInput:
		return []check{b.check("GetItem", item{table: aws.ToString(in.TableName), key: in.Key, names: in.ExpressionAttributeNames,
			exprs: []*string{in.ProjectionExpression}, attrs: in.AttributesToGet})}, nil
	case *dynamodb.PutItemInput:
		return []check{b.check("PutItem", item{table: aws.ToString(in.TableName), key: in.Item, names: in.ExpressionAttributeNames,
			exprs: []*string{in.ConditionExpression}, attrs: mapKeys(in.Expected), returnValues: string(in.ReturnValues)})}, nil
	case *dynamodb.UpdateItemInput:
		return []check{b.check("UpdateItem", item{table: aws.ToString(in.TableName), key: in.Key, names: in.ExpressionAttributeNames,
			exprs: []*string{in.UpdateExpression, in.ConditionExpression},
			attrs: slices.Concat(mapKeys(in.AttributeUpdates), mapKeys(in.Expected)), returnValues: string(in.ReturnValues)})}, nil
	case *dynamodb.DeleteItemInput:
		return []check{b.check("DeleteItem", item{table: aws.ToString(in.TableName), key: in.Key, names: in.ExpressionAttributeNames,
			exprs: []*string{in.ConditionExpression}, attrs: mapKeys(in.Expected), returnValues: string(in.ReturnValues)})}, nil
	case *dynamodb.QueryInput:
		return []check{b.check("Query", item{table: aws.ToString(in.TableName), index: aws.ToString(in.IndexName),
			keyExpr: in.KeyConditionExpression, values: in.ExpressionAttributeValues, names: in.ExpressionAttributeNames,
			exprs: []*string{in.KeyConditionExpression, in.FilterExpression, in.ProjectionExpression},
			attrs: slices.Concat(in.AttributesToGet, mapKeys(in.KeyConditions), mapKeys(in.QueryFilter)), sel: string(in.Select)})}, nil
	case *dynamodb.ScanInput:
		return []check{b.check("Scan", item{table: aws.ToString(in.TableName), index: aws.ToString(in.IndexName), names: in.ExpressionAttributeNames,
			exprs: []*string{in.FilterExpression, in.ProjectionExpression},
			attrs: slices.Concat(in.AttributesToGet, mapKeys(in.ScanFilter)), sel: string(in.Select)})}, nil
	case *dynamodb.TransactWriteItemsInput:
		var out []check
		const enc = "TransactWriteItems"
		for i, t := range in.TransactItems {
			switch {
			case t.Put != nil:
				out = append(out, b.check("PutItem", item{table: aws.ToString(t.Put.TableName), key: t.Put.Item, names: t.Put.ExpressionAttributeNames,
					exprs: []*string{t.Put.ConditionExpression}, enclosing: enc}))
			case t.Update != nil:
				out = append(out, b.check("UpdateItem", item{table: aws.ToString(t.Update.TableName), key: t.Update.Key, names: t.Update.ExpressionAttributeNames,
					exprs: []*string{t.Update.UpdateExpression, t.Update.ConditionExpression}, enclosing: enc}))
			case t.Delete != nil:
				out = append(out, b.check("DeleteItem", item{table: aws.ToString(t.Delete.TableName), key: t.Delete.Key, names: t.Delete.ExpressionAttributeNames,
					exprs: []*string{t.Delete.ConditionExpression}, enclosing: enc}))
			case t.ConditionCheck != nil:
				out = append(out, b.check("ConditionCheckItem", item{table: aws.ToString(t.ConditionCheck.TableName), key: t.ConditionCheck.Key,
					names: t.ConditionCheck.ExpressionAttributeNames, exprs: []*string{t.ConditionCheck.ConditionExpression}, enclosing: enc}))
			default:
				return nil, fmt.Errorf("TransactWriteItems item %d has no action", i)
			}
		}
		return out, nil
	case *dynamodb.TransactGetItemsInput:
		var out []check
		for _, t := range in.TransactItems {
			if t.Get == nil {
				continue
			}
			out = append(out, b.check("GetItem", item{table: aws.ToString(t.Get.TableName), key: t.Get.Key, names: t.Get.ExpressionAttributeNames,
				exprs: []*string{t.Get.ProjectionExpression}, enclosing: "TransactGetItems"}))
		}
		return out, nil
	case *dynamodb.BatchGetItemInput:
		var out []check
		for _, table := range sortedTables(in.RequestItems) {
			ka := in.RequestItems[table]
			for _, k := range ka.Keys {
				out = append(out, b.check("BatchGetItem", item{table: table, key: k, names: ka.ExpressionAttributeNames,
					exprs: []*string{ka.ProjectionExpression}, attrs: ka.AttributesToGet}))
			}
		}
		return out, nil
	case *dynamodb.BatchWriteItemInput:
		var out []check
		for _, table := range sortedTables(in.RequestItems) {
			for _, w := range in.RequestItems[table] {
				switch {
				case w.PutRequest != nil:
					out = append(out, b.check("BatchWriteItem", item{table: table, key: w.PutRequest.Item}))
				case w.DeleteRequest != nil:
					out = append(out, b.check("BatchWriteItem", item{table: table, key: w.DeleteRequest.Key}))
				}
			}
		}
		return out, nil
	case *dynamodb.DescribeTableInput:
		return []check{b.check("DescribeTable", item{table: aws.ToString(in.TableName)})}, nil
	}
	return nil, fmt.Errorf("localiam: no IAM mapping for DynamoDB input %T; add it to local/localiam", params)
}

func sortedTables[V any](m map[string]V) []string {
	out := mapKeys(m)
	slices.Sort(out)
	return out
}

// streamArn rewrites a stream ARN of DynamoDB Local (region ddblocal,
// account 000000000000) into the local account and region.
func (b *requestBuilder) streamArn(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 {
		return arn
	}
	return "arn:aws:dynamodb:" + b.region + ":" + Account + ":" + parts[5]
}

// streamTable is the table a stream ARN belongs to.
func streamTable(arn string) string {
	_, rest, _ := strings.Cut(arn, ":table/")
	table, _, _ := strings.Cut(rest, "/")
	return table
}

// streamChecks maps a DynamoDB Streams operation to its IAM check.
// GetRecords names its stream only through the shard iterator, so the
// caller passes the stream the iterator was issued for ("" if unknown).
func (b *requestBuilder) streamChecks(params any, iteratorStream string) ([]check, error) {
	var action, arn string
	switch in := params.(type) {
	case *dynamodbstreams.DescribeStreamInput:
		action, arn = "DescribeStream", aws.ToString(in.StreamArn)
	case *dynamodbstreams.GetShardIteratorInput:
		action, arn = "GetShardIterator", aws.ToString(in.StreamArn)
	case *dynamodbstreams.GetRecordsInput:
		action, arn = "GetRecords", iteratorStream
		if arn == "" {
			// Not issued through this client: no stream ARN to check against.
			arn = "arn:aws:dynamodb:" + b.region + ":" + Account + ":table/unknown/stream/unknown"
		}
	case *dynamodbstreams.ListStreamsInput:
		// ListStreams is not scoped to a resource in IAM.
		return []check{{Request: Request{Action: "dynamodb:ListStreams", Resource: "*", Context: map[string][]string{}}}}, nil
	default:
		return nil, fmt.Errorf("localiam: no IAM mapping for DynamoDB Streams input %T; add it to local/localiam", params)
	}
	arn = b.streamArn(arn)
	return []check{{Request: Request{Action: "dynamodb:" + action, Resource: arn, Context: map[string][]string{}}, table: streamTable(arn)}}, nil
}
