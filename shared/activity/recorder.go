package activity

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/flowella/apikeys/shared/stamp"
)

// Writer is what recording needs of DynamoDB.
type Writer interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Recorder writes records and counters to the activity table.
//
// Writes per request: a request the authorizer let through is one record,
// written in a transaction with the counters of its batch (its key's hourly
// usage, its source address's hourly count, its route's for a change), so a
// batch of n such requests of one key from one address costs n+2 or n+3
// items. A 401 is its decision line alone (its access-log line names no
// key, and is not delivered): written as an allowed request is. A 403 has
// two lines, one from each log, met by request id at a rendezvous item (one
// read each): the first writes the record and the rendezvous, the second
// rewrites the record with what it adds (and moves a counter when that is
// the reason). So about three items per 403, plus its batch's counters, all
// in transactions. A line that names no key writes nothing.
type Recorder struct {
	DB    Writer
	Table string
	// Retention is how long records and counters are kept (DynamoDB TTL on
	// expires_at).
	Retention time.Duration
}

// Stats say what one batch did.
type Stats struct {
	Observations int // lines recorded from: those that name a key
	Created      int // records written
	Merged       int // records a second line completed
	Unchanged    int // lines already recorded: redeliveries
	WriteItems   int // items written (every item of a transaction)
	Reads        int // items read
}

// rendezvous is where a 403's two lines meet, by key and request id
// (meeting): a pointer to its record, written with it. It lives as long as
// the record.
type rendezvous struct {
	PK        string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	Version   int    `dynamodbav:"v"`
	RecordPK  string `dynamodbav:"record_pk,omitempty"`
	RecordSK  string `dynamodbav:"record_sk,omitempty"`
	ExpiresAt int64  `dynamodbav:"expires_at"`
}

func rendezvousKey(meeting string) map[string]types.AttributeValue {
	return itemKey(rendezvousPrefix+meeting, "req")
}

// meeting is where o's request's two lines meet: its key's, by request id.
// Both lines of a request name the same key (the authorizer's one
// decision), and a line of another key never meets them, even under the
// same id: API Gateway's own (extended) ids never collide, but a line
// without one falls back to the request id, which a client may choose
// (X-Amzn-RequestId).
func meeting(o Observation) string { return o.OrgID + "#" + o.KeyID + "#" + o.RequestID }

func itemKey(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: pk},
		"sk": &types.AttributeValueMemberS{Value: sk},
	}
}

// storedRecord is a record as the table holds it.
type storedRecord struct {
	PK        string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	Version   int    `dynamodbav:"v"`
	ExpiresAt int64  `dynamodbav:"expires_at"`
	Record
}

// Apply records a batch of observations. One that names no key has nothing
// to be recorded under, and writes nothing.
func (r *Recorder) Apply(ctx context.Context, obs []Observation) (Stats, error) {
	var st Stats
	var direct []Record
	var others []Observation
	seen := map[string]bool{}
	for _, o := range obs {
		if !o.identified() {
			continue
		}
		st.Observations++
		switch {
		case !o.direct():
			others = append(others, o)
		case seen[meeting(o)]:
			st.Unchanged++
		default:
			seen[meeting(o)] = true
			direct = append(direct, Record{}.with(o))
		}
	}
	if err := r.writeNew(ctx, direct, &st); err != nil {
		return st, err
	}
	if err := r.mergeAll(ctx, others, &st); err != nil {
		return st, err
	}
	return st, nil
}

// maxItems is DynamoDB's limit of items in one transaction.
const maxItems = 100

// writeNew writes records no other line will complete, with their
// counters, in as few transactions as fit. A record that exists already was
// delivered before: it and its counters are left as they are.
func (r *Recorder) writeNew(ctx context.Context, recs []Record, st *Stats) error {
	var acts []action
	for _, rec := range recs {
		put, err := r.putRecord(rec, 1, expression.AttributeNotExists(expression.Name("pk")))
		if err != nil {
			return err
		}
		acts = append(acts, action{kind: created, heads: []types.TransactWriteItem{put}, rec: rec, add: rec.counts()})
	}
	failed, err := r.commitAll(ctx, acts, st)
	if err != nil {
		return fmt.Errorf("record %d requests: %w", len(acts), err)
	}
	st.Unchanged += len(failed) // their records exist: delivered before, and counted then
	return nil
}

// action is what one line does to the table: its writes (heads, each
// conditional on what was read), and the counters they move.
type action struct {
	obs    Observation
	kind   int
	heads  []types.TransactWriteItem
	rec    Record // the record as written, for first and last times
	add    map[counterKey]map[string]int
	failed []bool // which heads' conditions failed
}

const (
	unchanged = iota
	created
	merged
)

// mergeAll records lines that may have, or be, the other half of their
// request. Each meets the other at the request's rendezvous: it is read,
// and what the line does is written on the condition that nothing read has
// changed since; a line whose condition fails is read and tried again. One
// line per request is in flight at a time; the writes of many go in one
// transaction with their counters.
func (r *Recorder) mergeAll(ctx context.Context, obs []Observation, st *Stats) error {
	orphans := map[string]rendezvous{}
	for attempt := 0; len(obs) > 0; attempt++ {
		if attempt > 0 {
			if attempt >= maxAttempts {
				return fmt.Errorf("record %d lines: %w", len(obs), errContention)
			}
			if err := backoff(ctx, attempt); err != nil {
				return err
			}
		}
		var acts []action
		var later []Observation
		busy := map[string]bool{}
		for _, o := range obs {
			if busy[meeting(o)] {
				later = append(later, o)
				continue
			}
			busy[meeting(o)] = true
			a, err := r.prepare(ctx, o, orphans[meeting(o)], st)
			if err != nil {
				return err
			}
			if a.kind == unchanged {
				st.Unchanged++
				continue
			}
			acts = append(acts, a)
		}
		failed, err := r.commitAll(ctx, acts, st)
		if err != nil {
			return err
		}
		for _, a := range failed {
			if a.kind == created && a.failed[0] && !a.failed[1] {
				// Its record is there, but its rendezvous has gone (past
				// its TTL): merge into the record itself.
				orphans[meeting(a.obs)] = rendezvous{RecordPK: partition(recordPrefix, a.rec.OrgID, a.rec.KeyID), RecordSK: a.rec.sk()}
			}
			later = append(later, a.obs)
		}
		obs = later
	}
	return nil
}

// prepare reads the request's rendezvous (and record) and works out what o
// does.
func (r *Recorder) prepare(ctx context.Context, o Observation, orphan rendezvous, st *Stats) (action, error) {
	rv, found, err := r.rendezvous(ctx, meeting(o), st)
	if err != nil {
		return action{}, err
	}
	if rv.RecordPK == "" && orphan.RecordPK != "" {
		rv = orphan
	}
	if rv.RecordPK != "" {
		return r.mergeInto(ctx, rv, o, st)
	}
	return r.create(rv, found, o)
}

// create writes the request's record from o, and points the rendezvous at
// it.
func (r *Recorder) create(rv rendezvous, found bool, o Observation) (action, error) {
	rec := Record{}.with(o)
	put, err := r.putRecord(rec, 1, expression.AttributeNotExists(expression.Name("pk")))
	if err != nil {
		return action{}, err
	}
	cond := expression.AttributeNotExists(expression.Name("pk"))
	if found {
		cond = expression.Name("v").Equal(expression.Value(rv.Version))
	}
	expires, err := r.expiry(rec.OccurredAt.String())
	if err != nil {
		return action{}, err
	}
	point, err := r.put(rendezvous{PK: rendezvousPrefix + meeting(o), SK: "req", Version: rv.Version + 1,
		RecordPK: partition(recordPrefix, rec.OrgID, rec.KeyID), RecordSK: rec.sk(),
		ExpiresAt: expires}, cond)
	if err != nil {
		return action{}, err
	}
	return action{obs: o, kind: created, heads: []types.TransactWriteItem{put, point}, rec: rec, add: rec.counts()}, nil
}

// mergeInto merges o into the record the rendezvous points at, moving the
// counters by what it adds.
func (r *Recorder) mergeInto(ctx context.Context, rv rendezvous, o Observation, st *Stats) (action, error) {
	out, err := r.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(r.Table),
		Key: itemKey(rv.RecordPK, rv.RecordSK), ConsistentRead: aws.Bool(true)})
	st.Reads++
	if err != nil {
		return action{}, fmt.Errorf("read record of request %s: %w", o.RequestID, err)
	}
	if out.Item == nil {
		return action{kind: unchanged}, nil // past its retention: nothing left to complete
	}
	cur, err := decodeRecord(out.Item)
	if err != nil {
		return action{}, fmt.Errorf("read record of request %s: %w", o.RequestID, err)
	}
	next := cur.Record.with(o)
	if next.equal(cur.Record) {
		return action{kind: unchanged}, nil
	}
	put, err := r.putRecord(next, cur.Version+1, expression.Name("v").Equal(expression.Value(cur.Version)))
	if err != nil {
		return action{}, err
	}
	return action{obs: o, kind: merged, heads: []types.TransactWriteItem{put}, rec: next, add: delta(cur.Record, next)}, nil
}

// commitAll writes actions, as many per transaction as fit with their
// counters. An action whose condition fails is returned, unwritten; the
// others are written without it.
func (r *Recorder) commitAll(ctx context.Context, acts []action, st *Stats) (failed []action, err error) {
	for len(acts) > 0 {
		n, heads, counters := 0, 0, map[counterKey]map[string]int{}
		for n < len(acts) {
			next := addCounts(clone(counters), acts[n].add)
			if n > 0 && heads+len(acts[n].heads)+len(next) > maxItems {
				break
			}
			counters, heads, n = next, heads+len(acts[n].heads), n+1
		}
		group := acts[:n]
		acts = acts[n:]
		for len(group) > 0 {
			p := plan{counters: map[counterKey]map[string]int{}, spans: map[counterKey]span{}}
			for _, a := range group {
				p.heads = append(p.heads, a.heads...)
				p.count(a.rec, a.add)
			}
			headFailed, err := r.commit(ctx, p, st)
			if err != nil {
				return nil, err
			}
			if headFailed == nil {
				for _, a := range group {
					switch a.kind {
					case created:
						st.Created++
					case merged:
						st.Merged++
					}
				}
				break
			}
			var rest []action
			i := 0
			for _, a := range group {
				a.failed = headFailed[i : i+len(a.heads)]
				i += len(a.heads)
				if slices.Contains(a.failed, true) {
					failed = append(failed, a)
				} else {
					rest = append(rest, a)
				}
			}
			group = rest
		}
	}
	return failed, nil
}

func (r *Recorder) rendezvous(ctx context.Context, meeting string, st *Stats) (rendezvous, bool, error) {
	out, err := r.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(r.Table),
		Key: rendezvousKey(meeting), ConsistentRead: aws.Bool(true)})
	st.Reads++
	if err != nil {
		return rendezvous{}, false, fmt.Errorf("read rendezvous %s: %w", meeting, err)
	}
	if out.Item == nil {
		return rendezvous{}, false, nil
	}
	var rv rendezvous
	if err := attributevalue.UnmarshalMap(out.Item, &rv); err != nil {
		return rendezvous{}, false, fmt.Errorf("read rendezvous %s: %w", meeting, err)
	}
	return rv, true, nil
}

// expiry is when an item about time at (a stored time, or a sort key that
// starts with its hour) leaves the table: counted from at's hour, never
// from the clock, so every item about one hour leaves together.
func (r *Recorder) expiry(at string) (int64, error) {
	t, err := time.Parse(HourLayout, hourOf(at))
	if err != nil {
		return 0, fmt.Errorf("activity item time %q: %w", at, err)
	}
	return t.Add(r.Retention + time.Hour).Unix(), nil
}

func (r *Recorder) putRecord(rec Record, version int, cond expression.ConditionBuilder) (types.TransactWriteItem, error) {
	expires, err := r.expiry(rec.OccurredAt.String())
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return r.put(storedRecord{PK: partition(recordPrefix, rec.OrgID, rec.KeyID), SK: rec.sk(), Version: version,
		ExpiresAt: expires, Record: rec}, cond)
}

func (r *Recorder) put(item any, cond expression.ConditionBuilder) (types.TransactWriteItem, error) {
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return types.TransactWriteItem{Put: &types.Put{TableName: aws.String(r.Table), Item: av,
		ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()}}, nil
}

// span is the first and last time of the requests a write adds to a
// counter that keeps them.
type span struct{ first, last stamp.Time }

// plan is one transaction: record and rendezvous writes (heads), then the
// counters they move.
type plan struct {
	heads    []types.TransactWriteItem
	counters map[counterKey]map[string]int
	spans    map[counterKey]span
}

// count adds a record's counter increments (and its time to those
// counters' spans).
func (p *plan) count(rec Record, add map[counterKey]map[string]int) {
	addCounts(p.counters, add)
	for _, k := range rec.seen() {
		if _, ok := add[k]; !ok {
			continue
		}
		s, ok := p.spans[k]
		if !ok || rec.OccurredAt < s.first {
			s.first = rec.OccurredAt
		}
		if rec.OccurredAt > s.last {
			s.last = rec.OccurredAt
		}
		p.spans[k] = s
	}
}

// commit runs a plan as one transaction. When heads fail their condition,
// nothing is written and failed says which. A counter's first and last
// times are set in the transaction when they only widen forward (the usual
// order of deliveries); a delivery older than what a counter holds cancels
// that, and the counter is written again without them and fixed after, by
// conditional writes that only ever widen them.
func (r *Recorder) commit(ctx context.Context, p plan, st *Stats) (failed []bool, err error) {
	keys := make([]counterKey, 0, len(p.counters))
	for k := range p.counters {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b counterKey) int {
		if a.PK != b.PK {
			return cmpString(a.PK, b.PK)
		}
		return cmpString(a.SK, b.SK)
	})
	loose := map[counterKey]bool{}
	for attempt := 0; ; attempt++ {
		items := slices.Clone(p.heads)
		for _, k := range keys {
			s, spanned := p.spans[k]
			it, err := r.counterUpdate(k, p.counters[k], s, spanned && !loose[k])
			if err != nil {
				return nil, err
			}
			items = append(items, it)
		}
		_, err := r.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			st.WriteItems += len(items)
			for k := range loose {
				if err := r.widen(ctx, k, p.spans[k], st); err != nil {
					return nil, err
				}
			}
			return nil, nil
		}
		if reasons, ok := cancellation(err); ok {
			failed = make([]bool, len(p.heads))
			headFailed := false
			for i := range p.heads {
				failed[i] = reasons[i] == "ConditionalCheckFailed"
				headFailed = headFailed || failed[i]
			}
			if headFailed {
				return failed, nil
			}
			widened := false
			for j, k := range keys {
				if reasons[len(p.heads)+j] == "ConditionalCheckFailed" && !loose[k] {
					loose[k], widened = true, true
				}
			}
			if widened {
				continue
			}
		}
		if !retryable(err) || attempt+1 >= maxAttempts {
			return nil, err
		}
		if err := backoff(ctx, attempt+1); err != nil {
			return nil, err
		}
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// counterUpdate adds to a counter; with span, it also sets its first and
// last times, on the condition that they only move forward.
func (r *Recorder) counterUpdate(k counterKey, add map[string]int, s span, withSpan bool) (types.TransactWriteItem, error) {
	expires, err := r.expiry(k.SK)
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	upd := expression.Set(expression.Name("expires_at"), expression.Value(expires))
	names := make([]string, 0, len(add))
	for a := range add {
		names = append(names, a)
	}
	slices.Sort(names)
	for _, a := range names {
		upd = upd.Add(expression.Name(a), expression.Value(add[a]))
	}
	b := expression.NewBuilder()
	if withSpan {
		first, last := expression.Name("first_seen"), expression.Name("last_seen")
		upd = upd.Set(first, expression.IfNotExists(first, expression.Value(s.first))).Set(last, expression.Value(s.last))
		b = b.WithCondition(expression.And(
			expression.Or(expression.AttributeNotExists(first), first.LessThanEqual(expression.Value(s.first))),
			expression.Or(expression.AttributeNotExists(last), last.LessThanEqual(expression.Value(s.last)))))
	}
	expr, err := b.WithUpdate(upd).Build()
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return types.TransactWriteItem{Update: &types.Update{TableName: aws.String(r.Table), Key: itemKey(k.PK, k.SK),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()}}, nil
}

// widen sets a counter's first time if s.first is earlier and its last
// time if s.last is later: idempotent, in any order.
func (r *Recorder) widen(ctx context.Context, k counterKey, s span, st *Stats) error {
	for _, w := range []struct {
		name  string
		value stamp.Time
		older bool
	}{{"first_seen", s.first, true}, {"last_seen", s.last, false}} {
		n := expression.Name(w.name)
		cond := n.LessThan(expression.Value(w.value))
		if w.older {
			cond = n.GreaterThan(expression.Value(w.value))
		}
		expr, err := expression.NewBuilder().
			WithUpdate(expression.Set(n, expression.Value(w.value))).
			WithCondition(expression.Or(expression.AttributeNotExists(n), cond)).Build()
		if err != nil {
			return err
		}
		_, err = r.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(r.Table), Key: itemKey(k.PK, k.SK),
			UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
			ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()})
		st.WriteItems++
		var ccf *types.ConditionalCheckFailedException
		if err != nil && !errors.As(err, &ccf) {
			return fmt.Errorf("widen %s of %s %s: %w", w.name, k.PK, k.SK, err)
		}
	}
	return nil
}

func addCounts(dst, src map[counterKey]map[string]int) map[counterKey]map[string]int {
	for k, attrs := range src {
		if dst[k] == nil {
			dst[k] = map[string]int{}
		}
		for a, n := range attrs {
			dst[k][a] += n
		}
	}
	return dst
}

func clone(m map[counterKey]map[string]int) map[counterKey]map[string]int {
	out := make(map[counterKey]map[string]int, len(m))
	for k, attrs := range m {
		out[k] = make(map[string]int, len(attrs))
		for a, n := range attrs {
			out[k][a] = n
		}
	}
	return out
}

// maxAttempts bounds the retries of a write that meets concurrent ones.
const maxAttempts = 8

var errContention = errors.New("too many concurrent writes to the same items")

// backoff waits 20 ms doubling per attempt (at most 1 s), jittered to
// between half and all of it.
func backoff(ctx context.Context, attempt int) error {
	d := min(20*time.Millisecond<<min(attempt-1, 6), time.Second)
	d = d/2 + rand.N(d/2+1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// cancellation returns the reason codes of a cancelled transaction, one per
// item.
func cancellation(err error) ([]string, bool) {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return nil, false
	}
	out := make([]string, len(tce.CancellationReasons))
	for i, r := range tce.CancellationReasons {
		out[i] = aws.ToString(r.Code)
	}
	return out, true
}

// retryable reports whether err is DynamoDB meeting concurrent writes or
// throttling: worth trying again shortly.
func retryable(err error) bool {
	if reasons, ok := cancellation(err); ok {
		for _, r := range reasons {
			switch r {
			case "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded":
				return true
			}
		}
		return false
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "TransactionConflictException", "TransactionInProgressException", "ThrottlingException",
			"ProvisionedThroughputExceededException", "RequestLimitExceeded":
			return true
		}
	}
	return false
}

// decodeRecord reads a stored record. Its occurred_at, when a hand edit
// broke it, is read from its sort key ("<occurred_at>#<request id>", which
// the code wrote and no one edits in place), so that one edited item can
// neither fail a key's activity list nor stall the recording of its
// request's other log line.
func decodeRecord(item map[string]types.AttributeValue) (storedRecord, error) {
	var rec storedRecord
	err := attributevalue.UnmarshalMap(item, &rec)
	if err == nil {
		return rec, nil
	}
	sk, ok := item["sk"].(*types.AttributeValueMemberS)
	if !ok {
		return rec, err
	}
	at, _, _ := strings.Cut(sk.Value, "#")
	if _, perr := stamp.Parse(at); perr != nil {
		return rec, err
	}
	fixed := maps.Clone(item)
	fixed["occurred_at"] = &types.AttributeValueMemberS{Value: at}
	rec = storedRecord{}
	if err := attributevalue.UnmarshalMap(fixed, &rec); err != nil {
		return rec, err
	}
	return rec, nil
}
