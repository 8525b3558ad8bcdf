// Package locallogs is the local stack's CloudWatch Logs, as far as
// subscription filters need it: log groups that lines are written to, and
// subscriptions that deliver a group's matching lines to a function in the
// batches CloudWatch Logs sends (events.CloudwatchLogsEvent: gzipped,
// base64 JSON with logGroup, logStream, subscriptionFilters and logEvents
// with ids and timestamps), every Interval: what accumulated since the
// last delivery, not line by line. A batch the function fails is
// sent again twice, as Lambda retries an asynchronous invocation, then
// dropped with an error in the log.
package locallogs

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// DefaultInterval is how often subscriptions deliver.
const DefaultInterval = 200 * time.Millisecond

// MaxBatch is the most events one delivery carries.
const MaxBatch = 1000

// MaxQueued bounds the lines a subscription holds before it delivers them;
// beyond it lines are dropped (and counted in the log).
const MaxQueued = 100_000

// Logs holds the log groups and their subscriptions.
type Logs struct {
	Interval time.Duration // DefaultInterval when 0
	// RetryDelays are the waits before each new attempt at a failed batch.
	RetryDelays []time.Duration
	log         *slog.Logger

	mu        sync.Mutex
	groups    map[string]*Group
	subs      []*Subscription
	delivered func(subscription string, event []byte)
	running   atomic.Bool
}

// New returns logs with no groups.
func New(log *slog.Logger) *Logs {
	if log == nil {
		log = slog.Default()
	}
	return &Logs{log: log, groups: map[string]*Group{}, RetryDelays: []time.Duration{time.Second, 2 * time.Second}}
}

// Group returns the log group of a logical id, creating it.
func (l *Logs) Group(logicalID string) *Group {
	l.mu.Lock()
	defer l.mu.Unlock()
	g, ok := l.groups[logicalID]
	if !ok {
		g = &Group{logs: l, name: "/local/" + logicalID, stream: "local/" + newID()}
		l.groups[logicalID] = g
	}
	return g
}

// Subscribe delivers the group's events that match pattern to fn, as the
// subscription filter name.
func (l *Logs) Subscribe(name, groupID, pattern string, fn lambda.Handler) error {
	p, err := ParsePattern(pattern)
	if err != nil {
		return fmt.Errorf("subscription filter %s: %w", name, err)
	}
	g := l.Group(groupID)
	s := &Subscription{name: name, group: g, pattern: p, fn: fn}
	g.mu.Lock()
	g.subs = append(g.subs, s)
	g.mu.Unlock()
	l.mu.Lock()
	l.subs = append(l.subs, s)
	l.mu.Unlock()
	return nil
}

// Run delivers every Interval until ctx ends. Lines are only kept while it
// runs: a stack nobody delivers for keeps nothing.
func (l *Logs) Run(ctx context.Context) error {
	interval := l.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	l.running.Store(true)
	defer l.running.Store(false)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			l.Deliver(ctx)
		}
	}
}

// OnDelivered has f called with every event a function took, as sent:
// tests deliver them again.
func (l *Logs) OnDelivered(f func(subscription string, event []byte)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.delivered = f
}

// Deliver sends what every subscription holds now.
func (l *Logs) Deliver(ctx context.Context) {
	l.mu.Lock()
	subs := append([]*Subscription(nil), l.subs...)
	delivered := l.delivered
	l.mu.Unlock()
	for _, s := range subs {
		s.deliver(ctx, l, delivered)
	}
}

// Group is a log group: every line written to it is one log event.
type Group struct {
	logs         *Logs
	name, stream string
	mu           sync.Mutex
	seq          uint64
	subs         []*Subscription
}

// Name is the group's name in the batches.
func (g *Group) Name() string { return g.name }

// Write takes one or more lines. It only copies them: filtering and
// delivery happen on the delivering goroutine, off the writer's path.
func (g *Group) Write(p []byte) (int, error) {
	if !g.logs.running.Load() {
		return len(p), nil
	}
	now := time.Now().UnixMilli()
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, line := range bytes.Split(p, []byte{'\n'}) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		g.seq++
		ev := events.CloudwatchLogsLogEvent{ID: eventID(now, g.seq), Timestamp: now, Message: string(line)}
		for _, s := range g.subs {
			s.add(ev)
		}
	}
	return len(p), nil
}

// Subscription is one subscription filter.
type Subscription struct {
	name    string
	group   *Group
	pattern *Pattern
	fn      lambda.Handler

	mu      sync.Mutex
	queue   []events.CloudwatchLogsLogEvent
	dropped int
}

func (s *Subscription) add(ev events.CloudwatchLogsLogEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) >= MaxQueued {
		s.dropped++
		return
	}
	s.queue = append(s.queue, ev)
}

func (s *Subscription) take() ([]events.CloudwatchLogsLogEvent, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := min(len(s.queue), MaxBatch)
	batch := s.queue[:n:n]
	s.queue = s.queue[n:]
	if len(s.queue) == 0 {
		s.queue = nil
	}
	dropped := s.dropped
	s.dropped = 0
	return batch, dropped
}

// deliver sends what the subscription holds: one batch, or, when more than
// a batch has piled up, batches until what is left fits in one. Lines
// written while the function runs wait for the next delivery, as with
// CloudWatch Logs, which sends what it buffered, not each line as it comes:
// a function slower than the lines arrive gets fewer, larger batches, not
// a stream of small ones.
func (s *Subscription) deliver(ctx context.Context, l *Logs, delivered func(string, []byte)) {
	for full := true; full && ctx.Err() == nil; {
		batch, dropped := s.take()
		if dropped > 0 {
			l.log.Error("log lines dropped: the subscription's function falls behind", "subscription", s.name, "lines", dropped)
		}
		full = len(batch) == MaxBatch
		matching := batch[:0]
		for _, ev := range batch {
			if s.pattern.Match(ev.Message) {
				matching = append(matching, ev)
			}
		}
		if len(matching) == 0 {
			continue
		}
		payload, err := s.event(matching)
		if err == nil {
			err = s.invoke(ctx, l, payload)
		}
		if err == nil && delivered != nil {
			delivered(s.name, payload)
		}
		if err != nil && ctx.Err() == nil {
			l.log.Error("log batch not delivered after retries", "subscription", s.name, "log_group", s.group.name,
				"events", len(matching), "error", err.Error())
		}
	}
}

// Event is the CloudWatch Logs subscription event for these log events of
// the group, as filter name sends it.
func Event(group, stream, filter string, logEvents []events.CloudwatchLogsLogEvent) (events.CloudwatchLogsEvent, error) {
	data, err := json.Marshal(events.CloudwatchLogsData{Owner: "000000000000", LogGroup: group, LogStream: stream,
		SubscriptionFilters: []string{filter}, MessageType: "DATA_MESSAGE", LogEvents: logEvents})
	if err != nil {
		return events.CloudwatchLogsEvent{}, err
	}
	var b bytes.Buffer
	zw := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(zw)
	zw.Reset(&b)
	if _, err := zw.Write(data); err != nil {
		return events.CloudwatchLogsEvent{}, err
	}
	if err := zw.Close(); err != nil {
		return events.CloudwatchLogsEvent{}, err
	}
	return events.CloudwatchLogsEvent{AWSLogs: events.CloudwatchLogsRawData{Data: base64.StdEncoding.EncodeToString(b.Bytes())}}, nil
}

// gzipWriters are reused: a new writer allocates its compressor's tables
// (about 1 MB) for every batch. The fastest level is as valid gzip as any.
var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return zw
}}

// eventID is CloudWatch Logs' 56-digit event id: the time in milliseconds
// and a sequence number, zero-padded to 20 and 36 digits.
func eventID(ms int64, seq uint64) string {
	var b [56]byte
	for i := range b {
		b[i] = '0'
	}
	t := strconv.AppendInt(nil, ms, 10)
	copy(b[20-len(t):20], t)
	n := strconv.AppendUint(nil, seq, 10)
	copy(b[56-len(n):], n)
	return string(b[:])
}

func (s *Subscription) event(logEvents []events.CloudwatchLogsLogEvent) ([]byte, error) {
	ev, err := Event(s.group.name, s.group.stream, s.name, logEvents)
	if err != nil {
		return nil, err
	}
	return json.Marshal(ev)
}

// invoke calls the function, and again after each of RetryDelays while it
// fails.
func (s *Subscription) invoke(ctx context.Context, l *Logs, payload []byte) error {
	var err error
	for attempt := 0; ; attempt++ {
		err = invokeOnce(ctx, s.fn, payload)
		if err == nil || attempt >= len(l.RetryDelays) {
			return err
		}
		l.log.Warn("log batch failed; retrying", "subscription", s.name, "attempt", attempt+1, "error", err.Error())
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(l.RetryDelays[attempt]):
		}
	}
}

func invokeOnce(ctx context.Context, fn lambda.Handler, payload []byte) error {
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: newID()})
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := fn.Invoke(ctx, payload)
	if err != nil {
		return err
	}
	var fail struct {
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal(out, &fail) == nil && fail.ErrorMessage != "" {
		return errors.New(fail.ErrorMessage)
	}
	return nil
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
