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

	"github.com/flowella/apikeys/shared/dynamo"
)

// OrgKeysIndex is the index that lists an organisation's keys.
const OrgKeysIndex = "org-keys"

// API is the part of the DynamoDB client the store uses.
type API interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Store reads and writes keys and organisations, and the Idempotency-Key
// records of creates and rolls (see WithIdempotency).
type Store struct {
	db               API
	keysTable        string
	orgsTable        string
	idempotencyTable string
}

// New returns a store over the two tables.
func New(db API, keysTable, orgsTable string) *Store {
	return &Store{db: db, keysTable: keysTable, orgsTable: orgsTable}
}

func hashKey(hash string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"key_hash": &types.AttributeValueMemberS{Value: hash}}
}

func orgKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"org_id": &types.AttributeValueMemberS{Value: id}}
}

// putNew is the transaction item that stores k, refusing to overwrite.
func (s *Store) putNew(k Key) (types.TransactWriteItem, error) {
	item, err := attributevalue.MarshalMap(k)
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

// count is the transaction item that adds delta to org's active-key count;
// with mustExist the organisation must already have a record.
func (s *Store) count(orgID string, delta int, mustExist bool) (types.TransactWriteItem, error) {
	b := expression.NewBuilder().WithUpdate(expression.Add(expression.Name("active_keys"), expression.Value(delta)))
	if mustExist {
		b = b.WithCondition(expression.AttributeExists(expression.Name("org_id")))
	}
	expr, err := b.Build()
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return types.TransactWriteItem{Update: &types.Update{
		TableName:                 aws.String(s.orgsTable),
		Key:                       orgKey(orgID),
		ConditionExpression:       expr.Condition(),
		UpdateExpression:          expr.Update(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	}}, nil
}

// updateKey is the transaction item that applies upd to the key stored
// under hash when cond holds.
func (s *Store) updateKey(hash string, upd expression.UpdateBuilder, cond expression.ConditionBuilder) (types.TransactWriteItem, error) {
	expr, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return types.TransactWriteItem{Update: &types.Update{
		TableName:                 aws.String(s.keysTable),
		Key:                       hashKey(hash),
		UpdateExpression:          expr.Update(),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	}}, nil
}

// Create stores a new key and counts it against its organisation, in one
// transaction. The organisation must exist.
func (s *Store) Create(ctx context.Context, k Key) error { return s.create(ctx, k, nil) }

// CreateOnce is Create under an Idempotency-Key: the same transaction
// records idem, so a retry never stores a second key. A retry with the same
// fingerprint gets a *ReplayError with the key made first; with another
// fingerprint, ErrIdempotencyKeyReused.
func (s *Store) CreateOnce(ctx context.Context, k Key, idem Idempotency) error {
	return s.create(ctx, k, &idem)
}

func (s *Store) create(ctx context.Context, k Key, idem *Idempotency) error {
	put, err := s.putNew(k)
	if err != nil {
		return fmt.Errorf("create key %s: %w", k.ID, err)
	}
	count, err := s.count(k.OrgID, 1, true)
	if err != nil {
		return fmt.Errorf("create key %s: %w", k.ID, err)
	}
	items := []types.TransactWriteItem{put, count}
	var sk string
	if idem != nil {
		sk = idempotencySK(OpCreate, "", idem.Key)
		rec, err := s.remember(sk, *idem, k)
		if err != nil {
			return fmt.Errorf("create key %s: %w", k.ID, err)
		}
		items = append(items, rec)
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if reasons, ok := cancellation(err); ok {
		if idem != nil {
			if err := s.replayed(ctx, OpCreate, k.OrgID, sk, *idem, k.CreatedAt); err != nil {
				return fmt.Errorf("create key %s: %w", k.ID, err)
			}
		}
		switch {
		case len(reasons) > 1 && reasons[1] == "ConditionalCheckFailed":
			return fmt.Errorf("create key %s in %s: %w", k.ID, k.OrgID, ErrOrgNotFound)
		case len(reasons) > 0 && reasons[0] == "ConditionalCheckFailed":
			return fmt.Errorf("create key %s: %w", k.ID, ErrDuplicateHash)
		default:
			return fmt.Errorf("create key %s: %w: %w", k.ID, ErrConflict, err)
		}
	}
	if err != nil {
		return fmt.Errorf("create key %s: %w", k.ID, err)
	}
	return nil
}

// cancellation returns the per-item codes of a cancelled transaction.
func cancellation(err error) ([]string, bool) {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return nil, false
	}
	codes := make([]string, len(tce.CancellationReasons))
	for i, r := range tce.CancellationReasons {
		codes[i] = aws.ToString(r.Code)
	}
	return codes, true
}

// LookupByHash is the authorizer's one strongly consistent read.
func (s *Store) LookupByHash(ctx context.Context, hash string) (Key, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.keysTable),
		Key:            hashKey(hash),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Key{}, fmt.Errorf("lookup key: %w", err)
	}
	if out.Item == nil {
		return Key{}, ErrNotFound
	}
	var k Key
	if err := attributevalue.UnmarshalMap(out.Item, &k); err != nil {
		return Key{}, fmt.Errorf("lookup key: %w", err)
	}
	return k, nil
}

// hashOf finds the hash of key id in org through the org-keys index. A key of
// another organisation is not found.
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

// Get returns key id of org, read strongly consistently.
func (s *Store) Get(ctx context.Context, orgID, id string) (Key, error) {
	hash, err := s.hashOf(ctx, orgID, id)
	if err != nil {
		return Key{}, fmt.Errorf("get key %s: %w", id, err)
	}
	k, err := s.LookupByHash(ctx, hash)
	if err != nil {
		return Key{}, fmt.Errorf("get key %s: %w", id, err)
	}
	if k.OrgID != orgID {
		return Key{}, fmt.Errorf("get key %s: %w", id, ErrNotFound)
	}
	return k, nil
}

// ListOptions select a page of an organisation's keys.
type ListOptions struct {
	Status Status // "" for all; active and expired are told apart at Now
	Limit  int
	Before string    // key id: return keys created before this one (the cursor)
	Now    time.Time // for the active/expired filters
}

// List returns up to opts.Limit keys of org, newest first, and the id to pass
// as Before for the next page ("" when there is none). The partition is always
// the caller's organisation, so no cursor reaches another one's keys.
func (s *Store) List(ctx context.Context, orgID string, opts ListOptions) ([]Key, string, error) {
	kc := expression.Key("org_id").Equal(expression.Value(orgID))
	if opts.Before != "" {
		kc = kc.And(expression.Key("key_id").LessThan(expression.Value(opts.Before)))
	}
	b := expression.NewBuilder().WithKeyCondition(kc)
	isActive := expression.Name("status").Equal(expression.Value(StatusActive))
	switch opts.Status {
	case StatusActive:
		b = b.WithFilter(isActive.And(unexpiredAt(FormatTime(opts.Now))))
	case StatusExpired:
		b = b.WithFilter(isActive.And(expression.Name("expires_at").LessThanEqual(expression.Value(FormatTime(opts.Now)))))
	case StatusRevoked:
		b = b.WithFilter(expression.Name("status").Equal(expression.Value(StatusRevoked)))
	}
	expr, err := b.Build()
	if err != nil {
		return nil, "", fmt.Errorf("list keys: %w", err)
	}
	keys, err := dynamo.QueryPage[Key](ctx, s.db, dynamodb.QueryInput{
		TableName:                 aws.String(s.keysTable),
		IndexName:                 aws.String(OrgKeysIndex),
		KeyConditionExpression:    expr.KeyCondition(),
		FilterExpression:          expr.Filter(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ScanIndexForward:          aws.Bool(false),
	}, opts.Limit)
	if err != nil {
		return nil, "", fmt.Errorf("list keys of %s: %w", orgID, err)
	}
	if len(keys) > opts.Limit {
		keys = keys[:opts.Limit]
		return keys, keys[len(keys)-1].ID, nil
	}
	return keys, "", nil
}

// Changes are the fields an update sets; nil fields are left alone.
type Changes struct {
	Label      *string
	Scopes     []string
	AllowedIPs *[]string // an empty list lifts the restriction
	Channels   *[]string // an empty list lifts the restriction
}

// Update changes the label, scopes, allowed IPs and/or channels of an
// active, unexpired key of org.
func (s *Store) Update(ctx context.Context, orgID, id string, c Changes, change Change) (Key, error) {
	hash, err := s.hashOf(ctx, orgID, id)
	if err != nil {
		return Key{}, fmt.Errorf("update key %s: %w", id, err)
	}
	upd := expression.Set(expression.Name("last_change"), expression.Value(change))
	if c.Label != nil {
		upd = upd.Set(expression.Name("label"), expression.Value(*c.Label))
	}
	if c.Scopes != nil {
		upd = upd.Set(expression.Name("scopes"), expression.Value(c.Scopes))
	}
	for name, list := range map[string]*[]string{"allowed_ips": c.AllowedIPs, "channels": c.Channels} {
		switch {
		case list == nil:
		case len(*list) == 0:
			upd = upd.Remove(expression.Name(name))
		default:
			upd = upd.Set(expression.Name(name), expression.Value(*list))
		}
	}
	expr, err := expression.NewBuilder().WithUpdate(upd).WithCondition(activeIn(orgID).And(unexpiredAt(change.At))).Build()
	if err != nil {
		return Key{}, fmt.Errorf("update key %s: %w", id, err)
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.keysTable),
		Key:                       hashKey(hash),
		UpdateExpression:          expr.Update(),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ReturnValues:              types.ReturnValueAllNew,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return Key{}, fmt.Errorf("update key %s: %w", id, s.whyNotActive(ctx, orgID, hash, ErrRevoked))
	}
	if err != nil {
		return Key{}, fmt.Errorf("update key %s: %w", id, err)
	}
	var k Key
	if err := attributevalue.UnmarshalMap(out.Attributes, &k); err != nil {
		return Key{}, fmt.Errorf("update key %s: %w", id, err)
	}
	return k, nil
}

func activeIn(orgID string) expression.ConditionBuilder {
	return expression.Name("org_id").Equal(expression.Value(orgID)).
		And(expression.Name("status").Equal(expression.Value(StatusActive)))
}

// unexpiredAt holds for a key without expiry or whose expiry is after at.
func unexpiredAt(at string) expression.ConditionBuilder {
	return expression.AttributeNotExists(expression.Name("expires_at")).
		Or(expression.Name("expires_at").GreaterThan(expression.Value(at)))
}

// whyNotActive explains a failed "active key of this org" condition.
func (s *Store) whyNotActive(ctx context.Context, orgID, hash string, revoked error) error {
	k, err := s.LookupByHash(ctx, hash)
	switch {
	case errors.Is(err, ErrNotFound) || (err == nil && k.OrgID != orgID):
		return ErrNotFound
	case err != nil:
		return err
	case k.Status == StatusRevoked:
		return revoked
	case k.Expired(time.Now()):
		return ErrExpired
	default:
		return ErrConflict
	}
}

// Revoke revokes an active key of org now and uncounts it, in one
// transaction. Of two concurrent revokes exactly one succeeds; the other
// gets ErrAlreadyRevoked.
func (s *Store) Revoke(ctx context.Context, orgID, id, reason string, change Change) (Key, error) {
	hash, err := s.hashOf(ctx, orgID, id)
	if err != nil {
		return Key{}, fmt.Errorf("revoke key %s: %w", id, err)
	}
	upd := expression.Set(expression.Name("status"), expression.Value(StatusRevoked)).
		Set(expression.Name("revoked_at"), expression.Value(change.At)).
		Set(expression.Name("revoked_by"), expression.Value(change.Actor.UserID)).
		Set(expression.Name("last_change"), expression.Value(change))
	if reason != "" {
		upd = upd.Set(expression.Name("revoke_reason"), expression.Value(reason))
	}
	revoke, err := s.updateKey(hash, upd, activeIn(orgID))
	if err != nil {
		return Key{}, fmt.Errorf("revoke key %s: %w", id, err)
	}
	count, err := s.count(orgID, -1, false)
	if err != nil {
		return Key{}, fmt.Errorf("revoke key %s: %w", id, err)
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{revoke, count}})
	if reasons, ok := cancellation(err); ok {
		if len(reasons) > 0 && reasons[0] == "ConditionalCheckFailed" {
			return Key{}, fmt.Errorf("revoke key %s: %w", id, s.whyNotActive(ctx, orgID, hash, ErrAlreadyRevoked))
		}
		// TransactionConflict: another transaction on the same item won;
		// report what it left behind.
		if why := s.whyNotActive(ctx, orgID, hash, ErrAlreadyRevoked); errors.Is(why, ErrAlreadyRevoked) {
			return Key{}, fmt.Errorf("revoke key %s: %w", id, why)
		}
		return Key{}, fmt.Errorf("revoke key %s: %w: %w", id, ErrConflict, err)
	}
	if err != nil {
		return Key{}, fmt.Errorf("revoke key %s: %w", id, err)
	}
	k, err := s.LookupByHash(ctx, hash)
	if err != nil {
		return Key{}, fmt.Errorf("revoke key %s: read back: %w", id, err)
	}
	return k, nil
}

// Roll stores next, the replacement of old (an active key of org), and
// retires old in the same transaction: revoked now when grace is 0,
// otherwise set to expire after grace (never later than it already would).
// It returns old as it now stands.
func (s *Store) Roll(ctx context.Context, orgID string, old, next Key, grace time.Duration, change Change) (Key, error) {
	return s.roll(ctx, orgID, old, next, grace, change, nil)
}

// RollOnce is Roll under an Idempotency-Key, scoped to old: the same
// transaction records idem, so a retry never makes a second replacement. A
// retry with the same fingerprint gets a *ReplayError with the replacement
// made first (even once old is revoked); with another fingerprint,
// ErrIdempotencyKeyReused.
func (s *Store) RollOnce(ctx context.Context, orgID string, old, next Key, grace time.Duration, change Change, idem Idempotency) (Key, error) {
	return s.roll(ctx, orgID, old, next, grace, change, &idem)
}

func (s *Store) roll(ctx context.Context, orgID string, old, next Key, grace time.Duration, change Change, idem *Idempotency) (Key, error) {
	put, err := s.putNew(next)
	if err != nil {
		return Key{}, fmt.Errorf("roll key %s: %w", old.ID, err)
	}
	upd := expression.Set(expression.Name("rolled_to"), expression.Value(next.ID)).
		Set(expression.Name("last_change"), expression.Value(change))
	if grace == 0 {
		upd = upd.Set(expression.Name("status"), expression.Value(StatusRevoked)).
			Set(expression.Name("revoked_at"), expression.Value(change.At)).
			Set(expression.Name("revoked_by"), expression.Value(change.Actor.UserID)).
			Set(expression.Name("revoke_reason"), expression.Value("rolled to "+next.ID))
	} else {
		at, _ := time.Parse(TimeLayout, change.At)
		expiry := FormatTime(at.Add(grace))
		if old.ExpiresAt != "" && old.ExpiresAt < expiry {
			expiry = old.ExpiresAt
		}
		upd = upd.Set(expression.Name("expires_at"), expression.Value(expiry))
	}
	retire, err := s.updateKey(old.Hash, upd, activeIn(orgID).And(unexpiredAt(change.At)))
	if err != nil {
		return Key{}, fmt.Errorf("roll key %s: %w", old.ID, err)
	}
	items := []types.TransactWriteItem{put, retire}
	if grace > 0 {
		// Both keys are active for a while; a revoke-now roll leaves the count as is.
		count, err := s.count(orgID, 1, false)
		if err != nil {
			return Key{}, fmt.Errorf("roll key %s: %w", old.ID, err)
		}
		items = append(items, count)
	}
	var sk string
	if idem != nil {
		sk = idempotencySK(OpRoll, old.ID, idem.Key)
		rec, err := s.remember(sk, *idem, next)
		if err != nil {
			return Key{}, fmt.Errorf("roll key %s: %w", old.ID, err)
		}
		items = append(items, rec)
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if reasons, ok := cancellation(err); ok {
		// A replay first: the earlier roll already revoked old, which
		// would otherwise read as "revoked".
		if idem != nil {
			if err := s.replayed(ctx, OpRoll, orgID, sk, *idem, next.CreatedAt); err != nil {
				return Key{}, fmt.Errorf("roll key %s: %w", old.ID, err)
			}
		}
		if len(reasons) > 1 && reasons[1] == "ConditionalCheckFailed" {
			return Key{}, fmt.Errorf("roll key %s: %w", old.ID, s.whyNotActive(ctx, orgID, old.Hash, ErrRevoked))
		}
		return Key{}, fmt.Errorf("roll key %s: %w: %w", old.ID, ErrConflict, err)
	}
	if err != nil {
		return Key{}, fmt.Errorf("roll key %s: %w", old.ID, err)
	}
	k, err := s.LookupByHash(ctx, old.Hash)
	if err != nil {
		return Key{}, fmt.Errorf("roll key %s: read back: %w", old.ID, err)
	}
	return k, nil
}

// LastUsedInterval is how stale last_used_at must be before it is rewritten.
const LastUsedInterval = time.Minute

// TouchLastUsed sets last_used_at to now if the stored value is more than a
// minute old, and reports whether it wrote. It removes last_change, so the
// audit stream can tell this write from an admin change.
func (s *Store) TouchLastUsed(ctx context.Context, hash string, now time.Time) (bool, error) {
	cutoff := FormatTime(now.Add(-LastUsedInterval))
	cond := expression.AttributeExists(expression.Name("key_hash")).And(
		expression.AttributeNotExists(expression.Name("last_used_at")).
			Or(expression.Name("last_used_at").LessThan(expression.Value(cutoff))))
	upd := expression.Set(expression.Name("last_used_at"), expression.Value(FormatTime(now))).
		Remove(expression.Name("last_change"))
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(upd).Build()
	if err != nil {
		return false, err
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.keysTable),
		Key:                       hashKey(hash),
		UpdateExpression:          expr.Update(),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("touch last used: %w", err)
	}
	return true, nil
}

// GetOrg reads an organisation.
func (s *Store) GetOrg(ctx context.Context, id string) (Org, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.orgsTable), Key: orgKey(id)})
	if err != nil {
		return Org{}, fmt.Errorf("get org %s: %w", id, err)
	}
	if out.Item == nil {
		return Org{}, fmt.Errorf("get org %s: %w", id, ErrOrgNotFound)
	}
	var o Org
	if err := attributevalue.UnmarshalMap(out.Item, &o); err != nil {
		return Org{}, fmt.Errorf("get org %s: %w", id, err)
	}
	return o, nil
}

// SetOrg creates an organisation or changes its plan and features; its
// active-key count is left alone.
func (s *Store) SetOrg(ctx context.Context, id, plan string, features []string) error {
	if features == nil {
		features = []string{}
	}
	expr, err := expression.NewBuilder().WithUpdate(
		expression.Set(expression.Name("plan"), expression.Value(plan)).
			Set(expression.Name("features"), expression.Value(features)).
			Set(expression.Name("active_keys"), expression.IfNotExists(expression.Name("active_keys"), expression.Value(0)))).Build()
	if err != nil {
		return fmt.Errorf("set org %s: %w", id, err)
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.orgsTable),
		Key:                       orgKey(id),
		UpdateExpression:          expr.Update(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	if err != nil {
		return fmt.Errorf("set org %s: %w", id, err)
	}
	return nil
}
