package keystore

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

	"github.com/flowella/apikeys/shared/stamp"
)

// IdempotencyWindow is how long an Idempotency-Key is remembered.
const IdempotencyWindow = 24 * time.Hour

// Idempotency makes a create or roll happen at most once: the client's
// Idempotency-Key and the fingerprint of the request it came with. Its
// record is written in the same transaction as the key, so either both
// exist or neither.
type Idempotency struct {
	Key         string // the Idempotency-Key header
	Fingerprint string // hex SHA-256 of the canonical request
}

// Idempotency errors; the HTTP layer maps them to status codes.
var (
	// ErrIdempotentReplay: an earlier request with the same Idempotency-Key
	// and the same body already did this. A *ReplayError carries the key.
	ErrIdempotentReplay = errors.New("already done by an earlier request with this idempotency key")
	// ErrIdempotencyKeyReused: the Idempotency-Key came with another request.
	ErrIdempotencyKeyReused = errors.New("idempotency key already used for a different request")
	// ErrNoIdempotencyTable: the function was deployed without IDEMPOTENCY_TABLE.
	ErrNoIdempotencyTable = errors.New("no idempotency table configured")
)

// ReplayError is ErrIdempotentReplay with what the earlier request made.
type ReplayError struct {
	Op  string // OpCreate or OpRoll
	Key Key    // the key it created (for a roll, the replacement), as it now stands
}

func (e *ReplayError) Error() string {
	return fmt.Sprintf("%s (key %s)", ErrIdempotentReplay, e.Key.ID)
}

func (e *ReplayError) Unwrap() error { return ErrIdempotentReplay }

// idempotencyRecord is one remembered Idempotency-Key of an organisation.
type idempotencyRecord struct {
	OrgID       string     `dynamodbav:"org_id"`
	SK          string     `dynamodbav:"sk"` // see idempotencySK
	Fingerprint string     `dynamodbav:"request_sha256"`
	KeyID       string     `dynamodbav:"key_id"`   // the key the request made
	KeyHash     string     `dynamodbav:"key_hash"` // its item's key: read strongly, the org-keys index may lag
	CreatedAt   stamp.Time `dynamodbav:"created_at"`
	ExpiresAt   int64      `dynamodbav:"expires_at_epoch"` // DynamoDB TTL, Unix seconds
}

// idempotencySK scopes an Idempotency-Key to its operation and, for a roll,
// to the key rolled: "create#<key>" or "roll#<key id>#<key>". Operations and
// key ids hold no '#', so no two scopes share a sort key; the organisation
// is the partition key.
func idempotencySK(op, keyID, idemKey string) string {
	if keyID == "" {
		return op + "#" + idemKey
	}
	return op + "#" + keyID + "#" + idemKey
}

func idempotencyKey(orgID, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"org_id": &types.AttributeValueMemberS{Value: orgID},
		"sk":     &types.AttributeValueMemberS{Value: sk},
	}
}

// WithIdempotency returns a copy of the store that keeps Idempotency-Key
// records in table, for CreateOnce and RollOnce.
func (s *Store) WithIdempotency(table string) *Store {
	c := *s
	c.idempotencyTable = table
	return &c
}

// remember is the transaction item that records idem as having made k at
// the time k was created. It refuses to overwrite a record that has not
// expired; DynamoDB deletes expired ones lazily, so they count as absent.
func (s *Store) remember(sk string, idem Idempotency, k Key) (types.TransactWriteItem, error) {
	if s.idempotencyTable == "" {
		return types.TransactWriteItem{}, ErrNoIdempotencyTable
	}
	if k.CreatedAt.IsZero() {
		return types.TransactWriteItem{}, fmt.Errorf("idempotency record of key %s: no created_at", k.ID)
	}
	at := k.CreatedAt.Time()
	item, err := attributevalue.MarshalMap(idempotencyRecord{
		OrgID: k.OrgID, SK: sk, Fingerprint: idem.Fingerprint, KeyID: k.ID, KeyHash: k.Hash,
		CreatedAt: k.CreatedAt, ExpiresAt: at.Add(IdempotencyWindow).Unix(),
	})
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	cond, err := expression.NewBuilder().WithCondition(
		expression.AttributeNotExists(expression.Name("sk")).
			Or(expression.Name("expires_at_epoch").LessThan(expression.Value(at.Unix())))).Build()
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return types.TransactWriteItem{Put: &types.Put{
		TableName:                 aws.String(s.idempotencyTable),
		Item:                      item,
		ConditionExpression:       cond.Condition(),
		ExpressionAttributeNames:  cond.Names(),
		ExpressionAttributeValues: cond.Values(),
	}}, nil
}

// Replayed reports whether an earlier request with idem already did op —
// a create (keyID "") or a roll of keyID — within the window at at: a
// *ReplayError with the key it made, ErrIdempotencyKeyReused when idem's key
// came with another request, nil when it has not been used. The roll
// endpoint asks first, so that a retry is answered as a replay whatever
// happened to the key since (rolled, revoked, its ETag moved on).
func (s *Store) Replayed(ctx context.Context, op, orgID, keyID string, idem Idempotency, at stamp.Time) error {
	if s.idempotencyTable == "" {
		return ErrNoIdempotencyTable
	}
	return s.replayed(ctx, op, orgID, idempotencySK(op, keyID, idem.Key), idem, at)
}

// replayed explains a cancelled transaction that carried an idempotency
// record: a *ReplayError when an earlier request with the same key and
// fingerprint made a key, ErrIdempotencyKeyReused when the key came with
// another request, and nil when no live record exists (the cancellation had
// another cause). The read is strongly consistent, so a record committed by
// a concurrent request is seen.
func (s *Store) replayed(ctx context.Context, op, orgID, sk string, idem Idempotency, at stamp.Time) error {
	if at.IsZero() {
		return errors.New("idempotency record: no time to read it at")
	}
	now := at.Time()
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.idempotencyTable),
		Key:            idempotencyKey(orgID, sk),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return fmt.Errorf("read idempotency record: %w", err)
	}
	if out.Item == nil {
		return nil
	}
	var rec idempotencyRecord
	if err := attributevalue.UnmarshalMap(out.Item, &rec); err != nil {
		return fmt.Errorf("read idempotency record: %w", err)
	}
	switch {
	case rec.ExpiresAt < now.Unix():
		return nil
	case rec.Fingerprint != idem.Fingerprint:
		return fmt.Errorf("%w (it made key %s)", ErrIdempotencyKeyReused, rec.KeyID)
	}
	k, err := s.LookupByHash(ctx, rec.KeyHash)
	if err != nil {
		return fmt.Errorf("read key %s of idempotency record: %w", rec.KeyID, err)
	}
	if k.OrgID != orgID {
		return fmt.Errorf("read key %s of idempotency record: %w", rec.KeyID, ErrNotFound)
	}
	return &ReplayError{Op: op, Key: k}
}
