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
	"github.com/flowella/apikeys/shared/stamp"
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

// FirstVersion is the version a key is stored with.
const FirstVersion = 1

// Create stores a new key (at FirstVersion) and its id pointer, and counts
// it against its organisation, in one transaction. The organisation must
// exist.
func (s *Store) Create(ctx context.Context, k Key) error { return s.create(ctx, k, nil) }

// CreateOnce is Create under an Idempotency-Key: the same transaction
// records idem, so a retry never stores a second key. A retry with the same
// fingerprint gets a *ReplayError with the key made first; with another
// fingerprint, ErrIdempotencyKeyReused.
func (s *Store) CreateOnce(ctx context.Context, k Key, idem Idempotency) error {
	return s.create(ctx, k, &idem)
}

func (s *Store) create(ctx context.Context, k Key, idem *Idempotency) error {
	if k.CreatedAt.IsZero() {
		return fmt.Errorf("create key %s: no created_at: %w", k.ID, ErrUntimed)
	}
	k.Version = FirstVersion
	put, err := s.putNew(k)
	if err != nil {
		return fmt.Errorf("create key %s: %w", k.ID, err)
	}
	ptr, err := s.putPointer(k)
	if err != nil {
		return fmt.Errorf("create key %s: %w", k.ID, err)
	}
	count, err := s.count(k.OrgID, 1, true)
	if err != nil {
		return fmt.Errorf("create key %s: %w", k.ID, err)
	}
	const keyItem, pointerItem, orgItem = 0, 1, 2
	items := []types.TransactWriteItem{put, ptr, count}
	var sk string
	if idem != nil {
		sk = idempotencySK(OpCreate, "", idem.Key)
		rec, err := s.remember(sk, *idem, k)
		if err != nil {
			return fmt.Errorf("create key %s: %w", k.ID, err)
		}
		items = append(items, rec)
	}
	err = s.transact(ctx, items)
	if errors.Is(err, ErrContention) {
		return fmt.Errorf("create key %s: %w", k.ID, err)
	}
	if reasons, ok := cancellation(err); ok {
		if idem != nil {
			if err := s.replayed(ctx, OpCreate, k.OrgID, sk, *idem, k.CreatedAt); err != nil {
				return fmt.Errorf("create key %s: %w", k.ID, err)
			}
		}
		switch {
		case failedAt(reasons, orgItem):
			return fmt.Errorf("create key %s in %s: %w", k.ID, k.OrgID, ErrOrgNotFound)
		case failedAt(reasons, keyItem), failedAt(reasons, pointerItem):
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

// failedAt reports whether the i-th item of a cancelled transaction failed
// its condition.
func failedAt(reasons []string, i int) bool {
	return i < len(reasons) && reasons[i] == "ConditionalCheckFailed"
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
	k, err := decodeKey(out.Item)
	if err != nil {
		return Key{}, fmt.Errorf("lookup key: %w", err)
	}
	return k, nil
}

// Get returns key id of org, read strongly consistently: its id pointer,
// then the key. A key of another organisation is not found.
func (s *Store) Get(ctx context.Context, orgID, id string) (Key, error) {
	hash, err := s.hashByID(ctx, orgID, id)
	if err != nil {
		return Key{}, fmt.Errorf("get key %s: %w", id, err)
	}
	k, err := s.LookupByHash(ctx, hash)
	if err != nil {
		return Key{}, fmt.Errorf("get key %s: %w", id, err)
	}
	if k.OrgID != orgID || k.ID != id {
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
	// Exposed keeps only keys reported found in public (exposed_at set).
	Exposed bool
}

// List returns up to opts.Limit keys of org, newest first, and the id to pass
// as Before for the next page ("" when there is none). The partition is always
// the caller's organisation, so no cursor reaches another one's keys.
func (s *Store) List(ctx context.Context, orgID string, opts ListOptions) ([]Key, string, error) {
	if (opts.Status == StatusActive || opts.Status == StatusExpired) && opts.Now.IsZero() {
		return nil, "", fmt.Errorf("list keys of %s: %w: the %s filter is decided at ListOptions.Now", orgID, ErrUntimed, opts.Status)
	}
	kc := expression.Key("org_id").Equal(expression.Value(orgID))
	if opts.Before != "" {
		kc = kc.And(expression.Key("key_id").LessThan(expression.Value(opts.Before)))
	}
	b := expression.NewBuilder().WithKeyCondition(kc)
	isActive := expression.Name("status").Equal(expression.Value(StatusActive))
	var filters []expression.ConditionBuilder
	switch opts.Status {
	case StatusActive:
		filters = append(filters, isActive.And(unexpiredAt(stamp.Of(opts.Now))))
	case StatusExpired:
		filters = append(filters, isActive.And(expression.Name("expires_at").LessThanEqual(expression.Value(stamp.Of(opts.Now)))))
	case StatusRevoked:
		filters = append(filters, expression.Name("status").Equal(expression.Value(StatusRevoked)))
	}
	if opts.Exposed {
		filters = append(filters, expression.AttributeExists(expression.Name("exposed_at")))
	}
	switch len(filters) {
	case 1:
		b = b.WithFilter(filters[0])
	case 2:
		b = b.WithFilter(filters[0].And(filters[1]))
	}
	expr, err := b.Build()
	if err != nil {
		return nil, "", fmt.Errorf("list keys: %w", err)
	}
	// Read as LookupByHash reads a key: an item naming a field in another
	// case is refused (ErrAmbiguousItem), never shown either way.
	keys, err := dynamo.QueryPageWith(ctx, s.db, dynamodb.QueryInput{
		TableName:                 aws.String(s.keysTable),
		IndexName:                 aws.String(OrgKeysIndex),
		KeyConditionExpression:    expr.KeyCondition(),
		FilterExpression:          expr.Filter(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ScanIndexForward:          aws.Bool(false),
	}, opts.Limit, decodeKey)
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
// active, unexpired key of org: the key as it stands now (see UpdateAt).
func (s *Store) Update(ctx context.Context, orgID, id string, c Changes, change Change) (Key, error) {
	k, err := s.Get(ctx, orgID, id)
	if err != nil {
		return Key{}, fmt.Errorf("update key %s: %w", id, err)
	}
	return s.UpdateAt(ctx, k, c, change)
}

// UpdateAt changes k, as read, if it is still active, unexpired and at the
// version read; otherwise ErrRevoked, ErrExpired, ErrNotFound or ErrChanged
// (another write came between the read and this one).
func (s *Store) UpdateAt(ctx context.Context, k Key, c Changes, change Change) (Key, error) {
	if err := writable(k, change, ErrRevoked); err != nil {
		return Key{}, fmt.Errorf("update key %s: %w", k.ID, err)
	}
	upd := nextVersion(expression.Set(expression.Name("last_change"), expression.Value(change)), k)
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
	cond := activeIn(k.OrgID).And(unexpiredAt(change.At)).And(atVersion(k))
	expr, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	if err != nil {
		return Key{}, fmt.Errorf("update key %s: %w", k.ID, err)
	}
	out, err := s.updateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.keysTable),
		Key:                       hashKey(k.Hash),
		UpdateExpression:          expr.Update(),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ReturnValues:              types.ReturnValueAllNew,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return Key{}, fmt.Errorf("update key %s: %w", k.ID, s.whyRefused(ctx, k, change, ErrRevoked))
	}
	if err != nil {
		return Key{}, fmt.Errorf("update key %s: %w", k.ID, err)
	}
	var updated Key
	if err := attributevalue.UnmarshalMap(out.Attributes, &updated); err != nil {
		return Key{}, fmt.Errorf("update key %s: %w", k.ID, err)
	}
	return updated, nil
}

func activeIn(orgID string) expression.ConditionBuilder {
	return expression.Name("org_id").Equal(expression.Value(orgID)).
		And(expression.Name("status").Equal(expression.Value(StatusActive)))
}

// unexpiredAt holds for a key without expiry or whose expiry is after at.
func unexpiredAt(at stamp.Time) expression.ConditionBuilder {
	return expression.AttributeNotExists(expression.Name("expires_at")).
		Or(expression.Name("expires_at").GreaterThan(expression.Value(at)))
}

// atVersion holds while the key is still at the version k was read at (a
// key stored before versions existed has none: version 0).
func atVersion(k Key) expression.ConditionBuilder {
	if k.Version == 0 {
		return expression.AttributeNotExists(expression.Name("version"))
	}
	return expression.Name("version").Equal(expression.Value(k.Version))
}

// nextVersion adds to upd the increment of k's version.
func nextVersion(upd expression.UpdateBuilder, k Key) expression.UpdateBuilder {
	return upd.Set(expression.Name("version"), expression.Value(k.Version+1))
}

// ErrUntimed: a write was asked for without the time of its change (or a
// key without its creation time), or a list filter that depends on the time
// without one. The store never reads the clock itself.
var ErrUntimed = errors.New("no time given: the caller reads the clock")

// timed refuses a change without a time: every write records when it
// happened (revoked_at, last_change.at, a roll's expiry), and the caller,
// which read the clock, says when that is.
func timed(change Change) error {
	if change.At.IsZero() {
		return ErrUntimed
	}
	return nil
}

// writable refuses, without a write, a change without a time, or of a key
// read as revoked (with revoked) or expired.
func writable(k Key, change Change, revoked error) error {
	if err := timed(change); err != nil {
		return err
	}
	switch k.StatusAt(change.At.Time()) {
	case StatusRevoked:
		return revoked
	case StatusExpired:
		return ErrExpired
	}
	return nil
}

// whyRefused explains the failed condition of a write that acted on read,
// from the key as it now stands: gone, revoked (as revoked), expired, (for a
// roll) rolled meanwhile, or changed since it was read.
func (s *Store) whyRefused(ctx context.Context, read Key, change Change, revoked error) error {
	k, err := s.LookupByHash(ctx, read.Hash)
	now := change.At.Time()
	switch {
	case errors.Is(err, ErrNotFound) || (err == nil && k.OrgID != read.OrgID):
		return ErrNotFound
	case err != nil:
		return err
	case k.Status == StatusRevoked:
		return revoked
	case k.Expired(now):
		return ErrExpired
	case change.Op == OpRoll && k.RolledTo != read.RolledTo && k.RolledTo != "":
		return &RolledError{To: k.RolledTo}
	case k.Version != read.Version:
		return ErrChanged
	default:
		return ErrConflict
	}
}

// Revoke revokes an active key of org now and uncounts it: the key as it
// stands now (see RevokeAt).
func (s *Store) Revoke(ctx context.Context, orgID, id, reason string, change Change) (Key, error) {
	k, err := s.Get(ctx, orgID, id)
	if err != nil {
		return Key{}, fmt.Errorf("revoke key %s: %w", id, err)
	}
	return s.RevokeAt(ctx, k, reason, change)
}

// RevokeAt revokes k, as read, and uncounts it, in one transaction, if it
// is still active and at the version read. Of two concurrent revokes exactly
// one succeeds; the other gets ErrAlreadyRevoked. A key changed since it was
// read gets ErrChanged.
func (s *Store) RevokeAt(ctx context.Context, k Key, reason string, change Change) (Key, error) {
	if err := timed(change); err != nil {
		return Key{}, fmt.Errorf("revoke key %s: %w", k.ID, err)
	}
	if k.Status == StatusRevoked {
		return Key{}, fmt.Errorf("revoke key %s: %w", k.ID, ErrAlreadyRevoked)
	}
	revoke, err := s.revokeItem(k, reason, change, nil)
	if err != nil {
		return Key{}, fmt.Errorf("revoke key %s: %w", k.ID, err)
	}
	count, err := s.count(k.OrgID, -1, false)
	if err != nil {
		return Key{}, fmt.Errorf("revoke key %s: %w", k.ID, err)
	}
	err = s.transact(ctx, []types.TransactWriteItem{revoke, count})
	if errors.Is(err, ErrContention) {
		return Key{}, fmt.Errorf("revoke key %s: %w", k.ID, err)
	}
	if reasons, ok := cancellation(err); ok {
		if failedAt(reasons, 0) {
			return Key{}, fmt.Errorf("revoke key %s: %w", k.ID, s.whyRefused(ctx, k, change, ErrAlreadyRevoked))
		}
		return Key{}, fmt.Errorf("revoke key %s: %w: %w", k.ID, ErrConflict, err)
	}
	if err != nil {
		return Key{}, fmt.Errorf("revoke key %s: %w", k.ID, err)
	}
	revoked, err := s.LookupByHash(ctx, k.Hash)
	if err != nil {
		// The revoke is committed: answer with the key as written rather
		// than tell someone revoking a leaked key that it failed.
		revoked = k
		revoked.Status, revoked.RevokedAt, revoked.RevokedBy = StatusRevoked, change.At, change.Actor.UserID
		if reason != "" {
			revoked.RevokeReason = reason
		}
		revoked.LastChange = &change
		revoked.Version = k.Version + 1
	}
	return revoked, nil
}

// revokeItem is the transaction item that revokes k, as read: status,
// revocation fields, last_change and the next version, while k is active
// and at the version read. also, when set, adds to the update (ExposeAll's
// exposure fields).
func (s *Store) revokeItem(k Key, reason string, change Change, also func(expression.UpdateBuilder) expression.UpdateBuilder) (types.TransactWriteItem, error) {
	upd := expression.Set(expression.Name("status"), expression.Value(StatusRevoked)).
		Set(expression.Name("revoked_at"), expression.Value(change.At)).
		Set(expression.Name("revoked_by"), expression.Value(change.Actor.UserID)).
		Set(expression.Name("last_change"), expression.Value(change))
	if reason != "" {
		upd = upd.Set(expression.Name("revoke_reason"), expression.Value(reason))
	}
	if also != nil {
		upd = also(upd)
	}
	return s.updateKey(k.Hash, nextVersion(upd, k), activeIn(k.OrgID).And(atVersion(k)))
}

// Roll stores next, the replacement of old (a key of org as read), and
// retires old in the same transaction: revoked now when grace is 0,
// otherwise set to expire after grace (never later than it already would).
// It acts on the version of old that was read: a key changed since gets
// ErrChanged; a revoked or expired one ErrRevoked or ErrExpired; one already
// rolled to a live successor a *RolledError. It returns old as it now stands.
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
	var sk string
	if idem != nil {
		sk = idempotencySK(OpRoll, old.ID, idem.Key)
	}
	// A replay first, here and below: the earlier roll already retired old,
	// which would otherwise read as revoked or rolled.
	if err := s.rollable(ctx, orgID, old, change); err != nil {
		if idem != nil {
			if err := s.replayed(ctx, OpRoll, orgID, sk, *idem, next.CreatedAt); err != nil {
				return Key{}, fmt.Errorf("roll key %s: %w", old.ID, err)
			}
		}
		return Key{}, fmt.Errorf("roll key %s: %w", old.ID, err)
	}
	next.Version = FirstVersion
	put, err := s.putNew(next)
	if err != nil {
		return Key{}, fmt.Errorf("roll key %s: %w", old.ID, err)
	}
	ptr, err := s.putPointer(next)
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
		expiry := change.At.Add(grace)
		if !old.ExpiresAt.IsZero() && old.ExpiresAt < expiry {
			expiry = old.ExpiresAt
		}
		upd = upd.Set(expression.Name("expires_at"), expression.Value(expiry))
	}
	retire, err := s.updateKey(old.Hash, nextVersion(upd, old), activeIn(orgID).And(unexpiredAt(change.At)).And(atVersion(old)))
	if err != nil {
		return Key{}, fmt.Errorf("roll key %s: %w", old.ID, err)
	}
	const nextItem, pointerItem, oldItem = 0, 1, 2
	items := []types.TransactWriteItem{put, ptr, retire}
	if grace > 0 {
		// Both keys are active for a while; a revoke-now roll leaves the count as is.
		count, err := s.count(orgID, 1, false)
		if err != nil {
			return Key{}, fmt.Errorf("roll key %s: %w", old.ID, err)
		}
		items = append(items, count)
	}
	if idem != nil {
		rec, err := s.remember(sk, *idem, next)
		if err != nil {
			return Key{}, fmt.Errorf("roll key %s: %w", old.ID, err)
		}
		items = append(items, rec)
	}
	err = s.transact(ctx, items)
	if errors.Is(err, ErrContention) {
		return Key{}, fmt.Errorf("roll key %s: %w", old.ID, err)
	}
	if reasons, ok := cancellation(err); ok {
		if idem != nil {
			if err := s.replayed(ctx, OpRoll, orgID, sk, *idem, next.CreatedAt); err != nil {
				return Key{}, fmt.Errorf("roll key %s: %w", old.ID, err)
			}
		}
		switch {
		case failedAt(reasons, oldItem):
			return Key{}, fmt.Errorf("roll key %s: %w", old.ID, s.whyRefused(ctx, old, change, ErrRevoked))
		case failedAt(reasons, nextItem), failedAt(reasons, pointerItem):
			return Key{}, fmt.Errorf("roll key %s: %w", old.ID, ErrDuplicateHash)
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

// rollable refuses, before any write, to roll a key read as revoked,
// expired, or already rolled to a successor that is still live: a second
// successor would take over rolled_to and leave the first one active and
// unlinked. The successor's own successors count too (a successor rolled
// in its turn, revoked at once, has a live one): the key's descendants are
// followed down rolled_to. A descendant that is revoked or expired stays
// so (neither is ever undone), so the version check on old is all the
// write needs.
func (s *Store) rollable(ctx context.Context, orgID string, old Key, change Change) error {
	if err := writable(old, change, ErrRevoked); err != nil {
		return err
	}
	next := old.RolledTo
	for range maxDescendants {
		if next == "" {
			return nil
		}
		k, err := s.Get(ctx, orgID, next)
		switch {
		case errors.Is(err, ErrNotFound):
			return nil
		case err != nil:
			return fmt.Errorf("read successor: %w", err)
		case k.Live(change.At.Time()):
			return &RolledError{To: k.ID}
		}
		next = k.RolledTo
	}
	// A chain longer than any a person makes: refused rather than read on.
	return &RolledError{To: next}
}

// maxDescendants bounds the successors rollable reads down a chain.
const maxDescendants = 16

// LastUsedInterval is how stale last_used_at must be before it is rewritten.
const LastUsedInterval = time.Minute

// TouchLastUsed sets last_used_at to now if the stored value is more than a
// minute old, and reports whether it wrote. It removes last_change, so the
// audit stream can tell this write from an admin change.
func (s *Store) TouchLastUsed(ctx context.Context, hash string, now time.Time) (bool, error) {
	if now.IsZero() {
		return false, fmt.Errorf("touch last used: %w", ErrUntimed)
	}
	cutoff := stamp.Of(now).Add(-LastUsedInterval)
	cond := expression.AttributeExists(expression.Name("key_hash")).And(
		expression.AttributeNotExists(expression.Name("last_used_at")).
			Or(expression.Name("last_used_at").LessThan(expression.Value(cutoff))))
	// last_used_at alone: the audit function tells this write by what it
	// changes, and the authorizer's role may change nothing else.
	upd := expression.Set(expression.Name("last_used_at"), expression.Value(stamp.Of(now)))
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

// SeedOrg creates an organisation with plan and features unless it exists,
// and says whether it did: an existing organisation keeps what make org or
// an operator set.
func (s *Store) SeedOrg(ctx context.Context, id, plan string, features []string) (bool, error) {
	if features == nil {
		features = []string{}
	}
	item, err := attributevalue.MarshalMap(Org{ID: id, Plan: plan, Features: features})
	if err != nil {
		return false, fmt.Errorf("seed org %s: %w", id, err)
	}
	cond, err := expression.NewBuilder().
		WithCondition(expression.AttributeNotExists(expression.Name("org_id"))).Build()
	if err != nil {
		return false, fmt.Errorf("seed org %s: %w", id, err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(s.orgsTable),
		Item:                      item,
		ConditionExpression:       cond.Condition(),
		ExpressionAttributeNames:  cond.Names(),
		ExpressionAttributeValues: cond.Values(),
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("seed org %s: %w", id, err)
	}
	return true, nil
}

// CountActive counts org's keys that List calls active at now (status
// active, not expired), stopping once it reaches limit: the answer is exact
// below limit and "at least limit" from there. It reads the keys rather
// than the organisation's active_keys counter, which an expiry never
// decrements.
func (s *Store) CountActive(ctx context.Context, orgID string, now time.Time, limit int) (int, error) {
	if now.IsZero() {
		return 0, fmt.Errorf("count active keys of %s: %w", orgID, ErrUntimed)
	}
	expr, err := expression.NewBuilder().
		WithKeyCondition(expression.Key("org_id").Equal(expression.Value(orgID))).
		WithFilter(expression.Name("status").Equal(expression.Value(StatusActive)).And(unexpiredAt(stamp.Of(now)))).
		Build()
	if err != nil {
		return 0, fmt.Errorf("count active keys of %s: %w", orgID, err)
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.keysTable),
		IndexName:                 aws.String(OrgKeysIndex),
		KeyConditionExpression:    expr.KeyCondition(),
		FilterExpression:          expr.Filter(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		Select:                    types.SelectCount,
	}
	n := 0
	for n < limit {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return 0, fmt.Errorf("count active keys of %s: %w", orgID, err)
		}
		n += int(out.Count)
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	return min(n, limit), nil
}
