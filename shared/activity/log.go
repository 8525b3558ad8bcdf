package activity

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/flowella/apikeys/shared/dynamo"
	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/stamp"
)

// Log reads a key's activity: its records, and its counters, never a scan
// of raw records for a count.
type Log struct {
	DB    dynamo.Querier
	Table string
	Now   func() time.Time // time.Now when nil
}

func (l Log) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// Query selects records.
type Query struct {
	Since, Until time.Time // inclusive, exclusive; zero for no bound
	Status       int       // one status, or
	StatusClass  int       // a class: 4 for 4xx; 0 for any
	Outcome      string    // Allowed, Refused, or "" for both
	Limit        int
	Before       string // cursor: the sort key of the previous page's last record
}

// List returns the key's records, newest first, and the cursor of the next
// page ("" at the end). A page may hold fewer than Limit records when a
// filter leaves some out.
func (l Log) List(ctx context.Context, orgID, keyID string, q Query) ([]Record, string, error) {
	pk := expression.Key("pk").Equal(expression.Value(partition(recordPrefix, orgID, keyID)))
	lower, upper := "", ""
	if !q.Since.IsZero() {
		lower = keystore.FormatTime(q.Since)
	}
	if !q.Until.IsZero() {
		upper = keystore.FormatTime(q.Until) // every sort key at that time is "<time>#…", above it
	}
	if q.Before != "" && (upper == "" || q.Before < upper) {
		upper = q.Before
	}
	key := pk
	switch {
	case lower != "" && upper != "":
		if lower >= upper {
			return nil, "", nil
		}
		key = pk.And(expression.Key("sk").Between(expression.Value(lower), expression.Value(upper)))
	case lower != "":
		key = pk.And(expression.Key("sk").GreaterThanEqual(expression.Value(lower)))
	case upper != "":
		key = pk.And(expression.Key("sk").LessThan(expression.Value(upper)))
	}
	// (Key attributes cannot be filtered on: the cursor's own record, which
	// BETWEEN includes, is left out below.)
	filter := expression.Name("expires_at").GreaterThan(expression.Value(l.now().Unix()))
	if q.Status != 0 {
		filter = filter.And(expression.Name("status").Equal(expression.Value(q.Status)))
	}
	if q.StatusClass != 0 {
		filter = filter.And(expression.Name("status").Between(expression.Value(q.StatusClass*100), expression.Value(q.StatusClass*100+99)))
	}
	if q.Outcome != "" {
		filter = filter.And(expression.Name("outcome").Equal(expression.Value(q.Outcome)))
	}
	expr, err := expression.NewBuilder().WithKeyCondition(key).WithFilter(filter).Build()
	if err != nil {
		return nil, "", fmt.Errorf("list activity: %w", err)
	}
	found, err := dynamo.QueryPageWith(ctx, l.DB, dynamodb.QueryInput{
		TableName:                 aws.String(l.Table),
		KeyConditionExpression:    expr.KeyCondition(),
		FilterExpression:          expr.Filter(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ScanIndexForward:          aws.Bool(false),
	}, q.Limit+1, decodeRecord)
	if err != nil {
		return nil, "", fmt.Errorf("list activity of %s: %w", keyID, err)
	}
	recs := slices.DeleteFunc(found, func(r storedRecord) bool { return r.SK == upper })
	next := ""
	if len(recs) > q.Limit {
		recs = recs[:q.Limit]
		next = recs[len(recs)-1].SK
	}
	out := make([]Record, len(recs))
	for i, r := range recs {
		out[i] = r.Record
	}
	return out, next, nil
}

// ValidCursor reports whether s can be a record's sort key: a stored time,
// "#", a request id.
func ValidCursor(s string) bool {
	at, id, ok := strings.Cut(s, "#")
	if !ok || !validRequestID(id) {
		return false
	}
	_, err := time.Parse(keystore.TimeLayout, at)
	return err == nil
}

// Counts are the requests of a key, in total or in one bucket.
type Counts struct {
	Requests        int            `json:"requests"`
	Allowed         int            `json:"allowed"`
	Refused         int            `json:"refused"`
	ByStatusClass   map[string]int `json:"by_status_class"`
	RefusedByReason map[string]int `json:"refused_by_reason"`
}

func newCounts() Counts {
	return Counts{ByStatusClass: map[string]int{}, RefusedByReason: map[string]int{}}
}

func (c *Counts) add(attrs map[string]types.AttributeValue) {
	for name, v := range attrs {
		n, ok := v.(*types.AttributeValueMemberN)
		if !ok {
			continue
		}
		x, err := strconv.Atoi(n.Value)
		if err != nil || x == 0 {
			continue
		}
		switch {
		case name == "requests":
			c.Requests += x
		case name == Allowed:
			c.Allowed += x
		case name == Refused:
			c.Refused += x
		case strings.HasPrefix(name, "s_"):
			c.ByStatusClass[name[2:]] += x
		case strings.HasPrefix(name, "r_"):
			c.RefusedByReason[name[2:]] += x
		}
	}
}

// Bucket is one hour or day of a key's usage.
type Bucket struct {
	Start time.Time
	Counts
}

// Usage is a key's requests over a window, in total and per bucket (only
// buckets with requests are listed).
type Usage struct {
	Totals  Counts
	Buckets []Bucket
}

// Usage adds up the key's hourly counters from since to until, both whole
// hours, into buckets of an hour or (day) a UTC day.
func (l Log) Usage(ctx context.Context, orgID, keyID string, since, until time.Time, day bool) (Usage, error) {
	u := Usage{Totals: newCounts()}
	items, err := l.counters(ctx, usagePrefix, orgID, keyID, since, until)
	if err != nil {
		return u, fmt.Errorf("usage of %s: %w", keyID, err)
	}
	byStart := map[string]*Bucket{}
	var order []string
	for _, it := range items {
		sk, _ := it["sk"].(*types.AttributeValueMemberS)
		start := sk.Value
		if day {
			start = start[:10] + "T00"
		}
		b, ok := byStart[start]
		if !ok {
			t, err := time.Parse(HourLayout, start)
			if err != nil {
				continue
			}
			b = &Bucket{Start: t, Counts: newCounts()}
			byStart[start] = b
			order = append(order, start)
		}
		b.add(it)
		u.Totals.add(it)
	}
	slices.Sort(order)
	for _, s := range order {
		if byStart[s].Requests > 0 {
			u.Buckets = append(u.Buckets, *byStart[s])
		}
	}
	return u, nil
}

// SourceIP is one address a key was used from.
type SourceIP struct {
	IP                         string
	Requests, Allowed, Refused int
	FirstSeen, LastSeen        stamp.Time
}

// RouteWrites are a key's allowed changes (POST, PUT, PATCH, DELETE) on one
// route.
type RouteWrites struct {
	Method, Route       string
	Requests            int
	FirstSeen, LastSeen stamp.Time
}

// Exposure is what a key did in a window: from where, and what it changed.
type Exposure struct {
	Totals    Counts
	SourceIPs []SourceIP    // most requests first
	Writes    []RouteWrites // most requests first
}

// Exposure reads the key's address and route counters from since to until,
// both whole hours.
func (l Log) Exposure(ctx context.Context, orgID, keyID string, since, until time.Time) (Exposure, error) {
	u, err := l.Usage(ctx, orgID, keyID, since, until, true)
	if err != nil {
		return Exposure{}, err
	}
	e := Exposure{Totals: u.Totals, SourceIPs: []SourceIP{}, Writes: []RouteWrites{}}
	ips, err := l.counters(ctx, sourceIPPrefix, orgID, keyID, since, until)
	if err != nil {
		return e, fmt.Errorf("exposure of %s: %w", keyID, err)
	}
	byIP := map[string]*SourceIP{}
	for _, it := range ips {
		var c struct {
			SK       string `dynamodbav:"sk"`
			Requests int    `dynamodbav:"requests"`
			Allowed  int    `dynamodbav:"allowed"`
			Refused  int    `dynamodbav:"refused"`
		}
		if attributevalue.UnmarshalMap(it, &c) != nil || c.Requests == 0 {
			continue
		}
		first, last := seen(it, c.SK)
		_, ip, _ := strings.Cut(c.SK, "#")
		s := byIP[ip]
		if s == nil {
			s = &SourceIP{IP: ip}
			byIP[ip] = s
		}
		s.Requests += c.Requests
		s.Allowed += c.Allowed
		s.Refused += c.Refused
		s.FirstSeen, s.LastSeen = earliest(s.FirstSeen, first), max(s.LastSeen, last)
	}
	for _, s := range byIP {
		e.SourceIPs = append(e.SourceIPs, *s)
	}
	slices.SortFunc(e.SourceIPs, func(a, b SourceIP) int {
		if a.Requests != b.Requests {
			return b.Requests - a.Requests
		}
		return strings.Compare(a.IP, b.IP)
	})
	writes, err := l.counters(ctx, writesPrefix, orgID, keyID, since, until)
	if err != nil {
		return e, fmt.Errorf("exposure of %s: %w", keyID, err)
	}
	byRoute := map[string]*RouteWrites{}
	for _, it := range writes {
		var c struct {
			SK       string `dynamodbav:"sk"`
			Requests int    `dynamodbav:"requests"`
		}
		if attributevalue.UnmarshalMap(it, &c) != nil || c.Requests == 0 {
			continue
		}
		first, last := seen(it, c.SK)
		_, route, _ := strings.Cut(c.SK, "#")
		w := byRoute[route]
		if w == nil {
			method, path, _ := strings.Cut(route, " ")
			w = &RouteWrites{Method: method, Route: path}
			byRoute[route] = w
		}
		w.Requests += c.Requests
		w.FirstSeen, w.LastSeen = earliest(w.FirstSeen, first), max(w.LastSeen, last)
	}
	for _, w := range byRoute {
		e.Writes = append(e.Writes, *w)
	}
	slices.SortFunc(e.Writes, func(a, b RouteWrites) int {
		if a.Requests != b.Requests {
			return b.Requests - a.Requests
		}
		return strings.Compare(a.Method+" "+a.Route, b.Method+" "+b.Route)
	})
	return e, nil
}

// earliest is the earlier of two times, either of which may be unset.
func earliest(a, b stamp.Time) stamp.Time {
	if a.IsZero() || !b.IsZero() && b < a {
		return b
	}
	return a
}

// seen reads a counter's first and last times. A time that is missing or
// does not read (a hand edit) is its hour's bound, from the sort key the
// code wrote ("<hour>#…"): the first or the last millisecond of the hour,
// so that the counter's requests still show, between times that hold them.
func seen(item map[string]types.AttributeValue, sk string) (first, last stamp.Time) {
	hour, _ := time.Parse(HourLayout, hourOf(sk))
	read := func(name string, bound time.Time) stamp.Time {
		var t stamp.Time
		if av, ok := item[name]; !ok || t.UnmarshalDynamoDBAttributeValue(av) != nil || t.IsZero() {
			return stamp.Of(bound)
		}
		return t
	}
	return read("first_seen", hour), read("last_seen", hour.Add(time.Hour-time.Millisecond))
}

// counters reads every counter item of one kind whose hour is in
// [since, until), all pages, leaving out those past their retention.
func (l Log) counters(ctx context.Context, prefix, orgID, keyID string, since, until time.Time) ([]map[string]types.AttributeValue, error) {
	if !since.Before(until) {
		return nil, nil
	}
	first := since.UTC().Format(HourLayout)
	// The last hour's items, whatever follows "#" in their sort key ("$" sorts after "#").
	last := until.UTC().Add(-time.Hour).Format(HourLayout) + "$"
	expr, err := expression.NewBuilder().
		WithKeyCondition(expression.Key("pk").Equal(expression.Value(partition(prefix, orgID, keyID))).
			And(expression.Key("sk").Between(expression.Value(first), expression.Value(last)))).
		WithFilter(expression.Name("expires_at").GreaterThan(expression.Value(l.now().Unix()))).
		Build()
	if err != nil {
		return nil, err
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(l.Table),
		KeyConditionExpression:    expr.KeyCondition(),
		FilterExpression:          expr.Filter(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	}
	var out []map[string]types.AttributeValue
	for {
		page, err := l.DB.Query(ctx, in)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
		if page.LastEvaluatedKey == nil {
			return out, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}
