package keystore

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ReasonExposed is the revoke reason of a key revoked because it was found
// in public.
const ReasonExposed = "exposed"

// ExposeGroup is how many keys one ExposeAll transaction writes (DynamoDB
// takes 100 items in a transaction; a revoke adds the organisation's).
const ExposeGroup = 25

// ExposeAt is ExposeAll of one key.
func (s *Store) ExposeAt(ctx context.Context, k Key, revoke bool, change Change) error {
	return s.ExposeAll(ctx, []Key{k}, revoke, []Change{change})[0]
}

// ExposeAll records that keys, as read (each key once), were found in
// public where each one's change says (Op OpExpose, ExposureURL,
// ExposureSource): exposed_at (the first report only), exposure_url and
// exposure_source, with last_change and the next version, as every admin
// write. It returns each key's error.
//
// With revoke it also revokes each key, with reason ReasonExposed, in
// RevokeAt's own write (revokeItem: active, at the version read) and
// uncounts it in its organisation's item in the same transaction; errors
// as RevokeAt's (ErrAlreadyRevoked, ErrChanged, …). Without, each key stays
// active and must still be active, unexpired and at the version read;
// errors as UpdateAt's (ErrRevoked, ErrExpired, ErrChanged, …).
//
// Keys go ExposeGroup to a transaction: one request, and one update of the
// organisation's item, for many keys. A transaction cancelled by some keys'
// conditions is written again without them.
func (s *Store) ExposeAll(ctx context.Context, keys []Key, revoke bool, changes []Change) []error {
	errs := make([]error, len(keys))
	for from := 0; from < len(keys); from += ExposeGroup {
		s.exposeGroup(ctx, keys, revoke, changes, errs, from, min(from+ExposeGroup, len(keys)))
	}
	for i, err := range errs {
		if err != nil {
			errs[i] = fmt.Errorf("expose key %s: %w", keys[i].ID, err)
		}
	}
	return errs
}

// exposeGroup writes keys[from:to] in one transaction, setting their errs.
func (s *Store) exposeGroup(ctx context.Context, keys []Key, revoke bool, changes []Change, errs []error, from, to int) {
	refused := ErrRevoked // as an update of a revoked key
	if revoke {
		refused = ErrAlreadyRevoked // as a second revoke
	}
	var pending []int
	for i := from; i < to; i++ {
		if revoke && keys[i].Status == StatusRevoked {
			errs[i] = ErrAlreadyRevoked
		} else if revoke {
			errs[i] = timed(changes[i])
		} else {
			errs[i] = writable(keys[i], changes[i], ErrRevoked)
		}
		if errs[i] == nil {
			pending = append(pending, i)
		}
	}
	for len(pending) > 0 {
		items := make([]types.TransactWriteItem, 0, len(pending)+1)
		uncount := map[string]int{}
		var orgs []string
		for _, i := range pending {
			item, err := s.exposeItem(keys[i], revoke, changes[i])
			if err != nil {
				failAll(errs, pending, err)
				return
			}
			items = append(items, item)
			if revoke {
				if uncount[keys[i].OrgID] == 0 {
					orgs = append(orgs, keys[i].OrgID)
				}
				uncount[keys[i].OrgID]++
			}
		}
		for _, org := range orgs {
			count, err := s.count(org, -uncount[org], false)
			if err != nil {
				failAll(errs, pending, err)
				return
			}
			items = append(items, count)
		}
		err := s.transact(ctx, items)
		reasons, cancelled := cancellation(err)
		if !cancelled || errors.Is(err, ErrContention) {
			failAll(errs, pending, err) // nil: written
			return
		}
		var kept []int
		for j, i := range pending {
			if failedAt(reasons, j) {
				errs[i] = s.whyRefused(ctx, keys[i], changes[i], refused)
			} else {
				kept = append(kept, i)
			}
		}
		if len(kept) == len(pending) {
			failAll(errs, pending, fmt.Errorf("%w: %w", ErrConflict, err))
			return
		}
		pending = kept
	}
}

func failAll(errs []error, which []int, err error) {
	for _, i := range which {
		errs[i] = err
	}
}

// exposeItem is the transaction item of one key's exposure.
func (s *Store) exposeItem(k Key, revoke bool, change Change) (types.TransactWriteItem, error) {
	if revoke {
		return s.revokeItem(k, ReasonExposed, change, exposed(change))
	}
	upd := nextVersion(exposed(change)(expression.Set(expression.Name("last_change"), expression.Value(change))), k)
	return s.updateKey(k.Hash, upd, activeIn(k.OrgID).And(unexpiredAt(change.At)).And(atVersion(k)))
}

// exposed adds the exposure fields of change to a key's update. exposed_at
// keeps the first report's time: the window in which the key was public
// starts there.
func exposed(change Change) func(expression.UpdateBuilder) expression.UpdateBuilder {
	return func(upd expression.UpdateBuilder) expression.UpdateBuilder {
		upd = upd.Set(expression.Name("exposed_at"), expression.IfNotExists(expression.Name("exposed_at"), expression.Value(change.At)))
		for name, v := range map[string]string{"exposure_url": change.ExposureURL, "exposure_source": change.ExposureSource} {
			if v == "" {
				upd = upd.Remove(expression.Name(name))
			} else {
				upd = upd.Set(expression.Name(name), expression.Value(v))
			}
		}
		return upd
	}
}

// SetOnExposure sets what happens to the organisation's keys when they are
// found in public: ExposureRevoke or ExposureNotify. The organisation must
// have a record (ErrOrgNotFound).
func (s *Store) SetOnExposure(ctx context.Context, orgID, policy string) error {
	if policy != ExposureRevoke && policy != ExposureNotify {
		return fmt.Errorf("set org %s: on_exposure %q: want %s or %s", orgID, policy, ExposureRevoke, ExposureNotify)
	}
	expr, err := expression.NewBuilder().
		WithUpdate(expression.Set(expression.Name("on_exposure"), expression.Value(policy))).
		WithCondition(expression.AttributeExists(expression.Name("org_id"))).Build()
	if err != nil {
		return fmt.Errorf("set org %s: %w", orgID, err)
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.orgsTable),
		Key:                       orgKey(orgID),
		UpdateExpression:          expr.Update(),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return fmt.Errorf("set org %s: %w", orgID, ErrOrgNotFound)
	}
	if err != nil {
		return fmt.Errorf("set org %s: %w", orgID, err)
	}
	return nil
}
