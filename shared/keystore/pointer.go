package keystore

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// PointerPrefix starts the key_hash of every id pointer item. A key's own
// key_hash is hex, so the two never meet.
const PointerPrefix = "id#"

// pointer leads from a key id to the key item: one per key, in the keys
// table under key_hash "id#<key id>", written in the transaction that writes
// the key, so a strongly consistent GetItem finds it as soon as the key
// exists — which the org-keys index, eventually consistent, does not promise.
//
// It carries neither org_id nor key_id, the index's key attributes, so the
// index never holds it, and no last_change, so the audit stream's filter
// never delivers it (and the audit function, which audits images with a
// last_change only, would skip it). It never changes after it is written:
// a key's hash and organisation are fixed.
type pointer struct {
	Slot  string `dynamodbav:"key_hash"`     // PointerPrefix + key id
	Hash  string `dynamodbav:"ptr_key_hash"` // the key item's key_hash
	OrgID string `dynamodbav:"ptr_org_id"`
}

// IsPointer reports whether a keys-table item with this key_hash is an id
// pointer rather than a key.
func IsPointer(keyHash string) bool { return strings.HasPrefix(keyHash, PointerPrefix) }

func pointerKey(id string) map[string]types.AttributeValue {
	return hashKey(PointerPrefix + id)
}

// putPointer is the transaction item that stores k's id pointer, refusing
// to overwrite one (a key id is never reused).
func (s *Store) putPointer(k Key) (types.TransactWriteItem, error) {
	item, err := attributevalue.MarshalMap(pointer{Slot: PointerPrefix + k.ID, Hash: k.Hash, OrgID: k.OrgID})
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	cond, err := expression.NewBuilder().
		WithCondition(expression.AttributeNotExists(expression.Name("key_hash"))).Build()
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return types.TransactWriteItem{Put: &types.Put{
		TableName:                 aws.String(s.keysTable),
		Item:                      item,
		ConditionExpression:       cond.Condition(),
		ExpressionAttributeNames:  cond.Names(),
		ExpressionAttributeValues: cond.Values(),
	}}, nil
}

// hashByID finds the key_hash of key id of org, strongly consistently, from
// its id pointer. A key of another organisation is not found.
func (s *Store) hashByID(ctx context.Context, orgID, id string) (string, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.keysTable),
		Key:            pointerKey(id),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return "", err
	}
	if out.Item == nil {
		// Legacy: keys created before id pointers existed have none. They
		// are old enough for the index to have caught up with them; every
		// key created since has a pointer, so this path never reads a fresh
		// write. Remove it once such keys are backfilled or gone.
		return s.hashOf(ctx, orgID, id)
	}
	var p pointer
	if err := attributevalue.UnmarshalMap(out.Item, &p); err != nil {
		return "", err
	}
	if p.OrgID != orgID {
		return "", ErrNotFound
	}
	return p.Hash, nil
}

// hashOf finds the hash of key id in org through the org-keys index: only
// for legacy keys without an id pointer (see hashByID). A key of another
// organisation is not found.
func (s *Store) hashOf(ctx context.Context, orgID, id string) (string, error) {
	cond := expression.Key("org_id").Equal(expression.Value(orgID)).
		And(expression.Key("key_id").Equal(expression.Value(id)))
	expr, err := expression.NewBuilder().WithKeyCondition(cond).
		WithProjection(expression.NamesList(expression.Name("key_hash"))).Build()
	if err != nil {
		return "", err
	}
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.keysTable),
		IndexName:                 aws.String(OrgKeysIndex),
		KeyConditionExpression:    expr.KeyCondition(),
		ProjectionExpression:      expr.Projection(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	if err != nil {
		return "", err
	}
	if len(out.Items) == 0 {
		return "", ErrNotFound
	}
	var row struct {
		Hash string `dynamodbav:"key_hash"`
	}
	if err := attributevalue.UnmarshalMap(out.Items[0], &row); err != nil {
		return "", err
	}
	return row.Hash, nil
}
