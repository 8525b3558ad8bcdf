package locallogs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/flowella/apikeys/local/dynamotest"
	"github.com/flowella/apikeys/local/locallogs"
	"github.com/flowella/apikeys/shared/samtemplate"
)

func TestPatterns(t *testing.T) {
	tests := []struct {
		pattern string
		line    string
		want    bool
	}{
		{``, `not even JSON`, true},
		{`{ $.key_id = "key_*" }`, `{"key_id":"key_01J"}`, true},
		{`{ $.key_id = "key_*" }`, `{"key_id":"-"}`, false},
		{`{ $.key_id = "key_*" }`, `{"other":"key_01J"}`, false},
		{`{ $.key_id = "key_*" }`, `key_id = key_1`, false},
		{`{ ($.key_id = "key_*") || ($.status = "401") }`, `{"key_id":"-","status":"401"}`, true},
		{`{ ($.key_id = "key_*") || ($.status = "401") }`, `{"key_id":"-","status":"404"}`, false},
		{`{ $.status = 401 }`, `{"status":401}`, true},
		{`{ $.a.b != "x*y" }`, `{"a":{"b":"xzzy"}}`, false},
		{`{ $.a.b != "x*y" }`, `{"a":{"b":"xzz"}}`, true},
		{`{ ($.key_id = "key_*") && (($.outcome = "unauthenticated") || ($.outcome = "forbidden")) }`,
			`{"key_id":"key_1","outcome":"forbidden"}`, true},
		{`{ ($.key_id = "key_*") && (($.outcome = "unauthenticated") || ($.outcome = "forbidden")) }`,
			`{"key_id":"key_1","outcome":"allow"}`, false},
	}
	for _, tt := range tests {
		p, err := locallogs.ParsePattern(tt.pattern)
		if err != nil {
			t.Fatalf("%s: %v", tt.pattern, err)
		}
		if got := p.Match(tt.line); got != tt.want {
			t.Errorf("%s on %s: %v, want %v", tt.pattern, tt.line, got, tt.want)
		}
	}
	// What the local stack does not implement is refused when loading, not
	// read some way.
	for _, bad := range []string{`ERROR`, `{ $.a = 1 && $.b = 2 || $.c = 3 }`, `{ $.latency > 100 }`, `{ $.a[0] = 1 }`, `{ $.a = "x }`, `{ $.a = 1`} {
		if _, err := locallogs.ParsePattern(bad); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

// The template's subscription filters are all patterns the local stack
// reads.
func TestTemplatePatternsLoad(t *testing.T) {
	tpl, err := samtemplate.Load(dynamotest.TemplatePath(t))
	if err != nil {
		t.Fatal(err)
	}
	subs, err := tpl.LogSubscriptions()
	if err != nil {
		t.Fatal(err)
	}
	if len(subs) == 0 {
		t.Fatal("the template has no log subscription filters")
	}
	for _, s := range subs {
		if _, err := locallogs.ParsePattern(s.FilterPattern); err != nil {
			t.Errorf("%s: %v", s.Name, err)
		}
	}
}

// recorder is a function that keeps every batch it is given, and fails the
// first fail ones.
type recorder struct {
	mu      sync.Mutex
	fail    int
	batches []events.CloudwatchLogsData
}

func (r *recorder) handle(_ context.Context, ev events.CloudwatchLogsEvent) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail > 0 {
		r.fail--
		return errors.New("failing on purpose")
	}
	d, err := ev.AWSLogs.Parse()
	if err != nil {
		return err
	}
	r.batches = append(r.batches, d)
	return nil
}

func (r *recorder) events() []events.CloudwatchLogsLogEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []events.CloudwatchLogsLogEvent
	for _, b := range r.batches {
		out = append(out, b.LogEvents...)
	}
	return out
}

// Lines written to a group reach the subscribed function as CloudWatch Logs
// batches: only matching lines, each once, with ids and timestamps, the
// group, stream and filter named; a failed batch is sent again.
func TestDelivery(t *testing.T) {
	logs := locallogs.New(nil)
	logs.Interval = 10 * time.Millisecond
	logs.RetryDelays = []time.Duration{time.Millisecond, time.Millisecond}
	fn := &recorder{fail: 2}
	if err := logs.Subscribe("KeysOnly", "AccessLogGroup", `{ $.key_id = "key_*" }`, lambda.NewHandler(fn.handle)); err != nil {
		t.Fatal(err)
	}
	group := logs.Group("AccessLogGroup")
	_, _ = fmt.Fprintln(group, `{"key_id":"key_lost"}`) // before delivery runs: not kept
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = logs.Run(ctx) }()
	defer func() { cancel(); <-done }()
	time.Sleep(20 * time.Millisecond)
	for i := range 2500 {
		key := "-"
		if i%2 == 0 {
			key = fmt.Sprintf("key_%d", i)
		}
		_, _ = fmt.Fprintf(group, "{\"key_id\":%q}\n", key)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(fn.events()) < 1250 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	evs := fn.events()
	if len(evs) != 1250 {
		t.Fatalf("%d events delivered, want 1250", len(evs))
	}
	ids := map[string]bool{}
	for i, e := range evs {
		if want := fmt.Sprintf(`{"key_id":"key_%d"}`, 2*i); e.Message != want || e.Timestamp == 0 || ids[e.ID] || len(e.ID) != 56 {
			t.Fatalf("event %d: %+v", i, e)
		}
		ids[e.ID] = true
	}
	fn.mu.Lock()
	defer fn.mu.Unlock()
	b := fn.batches[0]
	if b.LogGroup != group.Name() || b.LogStream == "" || strings.Join(b.SubscriptionFilters, ",") != "KeysOnly" ||
		b.MessageType != "DATA_MESSAGE" || len(b.LogEvents) > locallogs.MaxBatch {
		raw, _ := json.Marshal(b)
		t.Fatalf("batch %s", raw)
	}
}

// A delivery sends what the subscription held when it began: lines written
// while the function runs go in the next delivery, in one batch, not in
// batches of their own; only a backlog of more than one batch is sent at
// once, in full batches.
func TestDeliveryBatchesWhatAccumulated(t *testing.T) {
	logs := locallogs.New(nil)
	logs.Interval = time.Hour // delivered here by Deliver alone
	group := logs.Group("AccessLogGroup")
	var mu sync.Mutex
	var sizes []int
	fn := func(_ context.Context, ev events.CloudwatchLogsEvent) error {
		d, err := ev.AWSLogs.Parse()
		if err != nil {
			return err
		}
		mu.Lock()
		sizes = append(sizes, len(d.LogEvents))
		mu.Unlock()
		if d.LogEvents[0].Message == `{"key_id":"key_trigger"}` {
			for i := range 3 {
				_, _ = fmt.Fprintf(group, "{\"key_id\":\"key_during_%d\"}\n", i)
			}
		}
		return nil
	}
	if err := logs.Subscribe("KeysOnly", "AccessLogGroup", `{ $.key_id = "key_*" }`, lambda.NewHandler(fn)); err != nil {
		t.Fatal(err)
	}
	got := func() []int {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(sizes)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = logs.Run(ctx) }()
	defer func() { cancel(); <-done }()
	// Lines are kept once Run runs.
	for deadline := time.Now().Add(10 * time.Second); len(got()) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("nothing delivered")
		}
		_, _ = fmt.Fprintln(group, `{"key_id":"key_probe"}`)
		logs.Deliver(ctx)
	}
	base := len(got())
	_, _ = fmt.Fprintln(group, `{"key_id":"key_trigger"}`)
	logs.Deliver(ctx)
	if s := got()[base:]; !slices.Equal(s, []int{1}) {
		t.Fatalf("first delivery: batches of %v, want [1]: lines written during it went out in it", s)
	}
	logs.Deliver(ctx)
	if s := got()[base:]; !slices.Equal(s, []int{1, 3}) {
		t.Fatalf("second delivery: batches of %v, want [1 3]", s)
	}
	for i := range 2*locallogs.MaxBatch + 500 {
		_, _ = fmt.Fprintf(group, "{\"key_id\":\"key_%d\"}\n", i)
	}
	logs.Deliver(ctx)
	if s := got()[base+2:]; !slices.Equal(s, []int{locallogs.MaxBatch, locallogs.MaxBatch, 500}) {
		t.Fatalf("a backlog: batches of %v, want two full ones and the rest in one delivery", s)
	}
}
