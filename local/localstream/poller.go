// Package localstream delivers a DynamoDB Local table's stream to the
// function template.yaml maps to it, as Lambda's event source mapping does:
// batches of records in the Lambda event shape, event filtering, partial
// batch responses (the failed records and the rest of the batch are
// retried), retries with exponential backoff until the mapping's retry or
// record-age limit, then a dead-letter entry in the shape Lambda sends to an
// on-failure destination. The checkpoint moves past a batch only once it is
// delivered or dead-lettered, so a stop, a crash or an outage of DynamoDB
// Local loses nothing. Lambda's shapes and filtering themselves are
// shared/streamevents, which the audit replay reads in AWS too.
package localstream

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/flowella/apikeys/shared/samtemplate"
	"github.com/flowella/apikeys/shared/streamevents"
)

// Streams is the part of the DynamoDB Streams client the poller uses.
type Streams interface {
	DescribeStream(context.Context, *dynamodbstreams.DescribeStreamInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error)
	GetShardIterator(context.Context, *dynamodbstreams.GetShardIteratorInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(context.Context, *dynamodbstreams.GetRecordsInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

// Tables finds a table's stream.
type Tables interface {
	DescribeTable(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// Poller feeds one table's stream to one function.
type Poller struct {
	Streams    Streams
	Tables     Tables
	TableName  string
	Mapping    samtemplate.StreamMapping
	Handler    lambda.Handler
	Checkpoint string    // file keeping the last handled sequence number per shard; "" keeps none
	DeadLetter io.Writer // the on-failure destination: one streamevents.DeadLetter document a line
	Log        *slog.Logger
	Interval   time.Duration // between polls of a stream with nothing new (200 ms)
	// A failed batch (or poll) is retried after Backoff, doubling with each
	// retry up to MaxBackoff, each delay jittered to between half and all of
	// it: 100 ms, 200 ms, 400 ms … 30 s.
	Backoff    time.Duration
	MaxBackoff time.Duration
	Now        func() time.Time // the clock record ages are read on; time.Now when nil

	filters []streamevents.Filter
	mu      sync.Mutex
	done    map[string]string // shard id -> last sequence number handled
}

// shardRefresh is how often an active stream's shard list is read again.
const shardRefresh = 10 * time.Second

// Run polls until ctx ends. While records remain it polls again at once; it
// waits Interval only when a poll finds nothing new. When DynamoDB Local
// cannot be reached it keeps its place and tries again with backoff.
func (p *Poller) Run(ctx context.Context) error {
	if p.Log == nil {
		p.Log = slog.Default()
	}
	if p.Interval == 0 {
		p.Interval = 200 * time.Millisecond
	}
	if p.Backoff == 0 {
		p.Backoff = 100 * time.Millisecond
	}
	if p.MaxBackoff == 0 {
		p.MaxBackoff = 30 * time.Second
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	filters, err := streamevents.ParseFilters(p.Mapping.FilterPatterns)
	if err != nil {
		return fmt.Errorf("stream %s → %s: %w", p.TableName, p.Mapping.Function, err)
	}
	p.filters = filters
	p.done = p.loadCheckpoint()
	streamArn, err := p.streamArn(ctx)
	if err != nil || streamArn == "" {
		return err
	}
	var (
		shards    []types.Shard
		described time.Time
		iterators = map[string]*string{}
		closed    = map[string]bool{}
		outage    = &outageLog{log: p.Log, what: "stream " + p.TableName + " → " + p.Mapping.Function}
	)
	for ctx.Err() == nil {
		if shards == nil || time.Since(described) > shardRefresh {
			s, err := p.shards(ctx, streamArn)
			if err != nil {
				if ctx.Err() == nil {
					sleep(ctx, p.pollBackoff(outage.failed(ctx, "describe stream", err)))
				}
				continue
			}
			shards, described = s, time.Now()
		}
		busy, failed := false, false
		for _, sh := range shards {
			id := aws.ToString(sh.ShardId)
			if closed[id] || ctx.Err() != nil {
				continue
			}
			// A child shard waits until its parent is read to the end, as
			// Lambda processes them.
			if parent := aws.ToString(sh.ParentShardId); parent != "" && !closed[parent] && knownShard(shards, parent) {
				continue
			}
			if iterators[id] == nil {
				it, err := p.iterator(ctx, streamArn, id)
				if err != nil {
					if ctx.Err() == nil {
						outage.failed(ctx, "shard iterator", err)
						failed = true
					}
					continue
				}
				iterators[id] = it
			}
			out, err := p.Streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iterators[id], Limit: aws.Int32(int32(p.Mapping.BatchSize))})
			if err != nil {
				// Iterators expire, and a restarted DynamoDB Local forgets
				// them: a new one starts after the checkpoint.
				iterators[id] = nil
				var expired *types.ExpiredIteratorException
				if !errors.As(err, &expired) && ctx.Err() == nil {
					outage.failed(ctx, "get records", err)
					failed = true
				}
				continue
			}
			outage.ok(ctx)
			if len(out.Records) > 0 {
				busy = true
				if !p.deliver(ctx, streamArn, id, out.Records) {
					return nil // ctx ended before the batch was handled: nothing checkpointed
				}
			}
			if out.NextShardIterator == nil {
				closed[id] = true
				shards = nil // look for its children
			}
			iterators[id] = out.NextShardIterator
		}
		switch {
		case busy:
			// More may be waiting: poll again at once.
		case failed:
			sleep(ctx, p.pollBackoff(outage.failures))
		default:
			sleep(ctx, p.Interval)
		}
	}
	return nil
}

// streamArn finds the table's stream, waiting out an unreachable DynamoDB Local.
func (p *Poller) streamArn(ctx context.Context) (string, error) {
	outage := &outageLog{log: p.Log, what: "stream " + p.TableName + " → " + p.Mapping.Function}
	for ctx.Err() == nil {
		desc, err := p.Tables.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(p.TableName)})
		var nf *ddbtypes.ResourceNotFoundException
		if errors.As(err, &nf) {
			return "", fmt.Errorf("describe %s: %w", p.TableName, err)
		}
		if err != nil {
			if ctx.Err() == nil {
				sleep(ctx, p.pollBackoff(outage.failed(ctx, "describe table", err)))
			}
			continue
		}
		arn := aws.ToString(desc.Table.LatestStreamArn)
		if arn == "" {
			return "", fmt.Errorf("table %s has no stream", p.TableName)
		}
		return arn, nil
	}
	return "", nil
}

func knownShard(shards []types.Shard, id string) bool {
	for _, s := range shards {
		if aws.ToString(s.ShardId) == id {
			return true
		}
	}
	return false
}

// outageLog counts consecutive failures to reach the stream and logs the
// first, one every 30 s after it, and the recovery.
type outageLog struct {
	log      *slog.Logger
	what     string
	failures int
	since    time.Time
	warned   time.Time
}

func (o *outageLog) failed(ctx context.Context, op string, err error) int {
	o.failures++
	if o.failures == 1 {
		o.since = time.Now()
	}
	if time.Since(o.warned) > 30*time.Second {
		o.warned = time.Now()
		o.log.WarnContext(ctx, "stream unreachable; keeping its place and retrying", "stream", o.what, "op", op,
			"failures", o.failures, "for", time.Since(o.since).Round(time.Millisecond).String(), "error", err.Error())
	}
	return o.failures
}

func (o *outageLog) ok(ctx context.Context) {
	if o.failures > 0 {
		o.log.InfoContext(ctx, "stream reachable again", "stream", o.what, "after", time.Since(o.since).Round(time.Millisecond).String())
	}
	o.failures, o.warned = 0, time.Time{}
}

// backoff is the delay before retry n (1, 2, …): Backoff doubled n-1 times,
// at most MaxBackoff, jittered to between half and all of it.
func (p *Poller) backoff(n int) time.Duration {
	d := p.Backoff
	for i := 1; i < n && d < p.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, p.MaxBackoff)
	return d/2 + time.Duration(mrand.Int64N(int64(d/2)+1))
}

// pollBackoff is backoff for reaching the stream itself, at most 5 s: a
// poll costs nothing, and DynamoDB Local is noticed soon after it is back.
func (p *Poller) pollBackoff(n int) time.Duration {
	return min(p.backoff(n), 5*time.Second)
}

func (p *Poller) shards(ctx context.Context, streamArn string) ([]types.Shard, error) {
	var shards []types.Shard
	var start *string
	for {
		out, err := p.Streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(streamArn), ExclusiveStartShardId: start})
		if err != nil {
			return nil, err
		}
		shards = append(shards, out.StreamDescription.Shards...)
		if out.StreamDescription.LastEvaluatedShardId == nil {
			break
		}
		start = out.StreamDescription.LastEvaluatedShardId
	}
	// Parents before children, as Lambda processes them.
	sort.SliceStable(shards, func(i, j int) bool { return aws.ToString(shards[i].ShardId) < aws.ToString(shards[j].ShardId) })
	return shards, nil
}

// iterator starts right after the shard's checkpoint, or at its oldest record.
func (p *Poller) iterator(ctx context.Context, streamArn, shard string) (*string, error) {
	in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(streamArn), ShardId: aws.String(shard),
		ShardIteratorType: types.ShardIteratorTypeTrimHorizon}
	p.mu.Lock()
	seq, resume := p.done[shard]
	p.mu.Unlock()
	if resume {
		in.ShardIteratorType, in.SequenceNumber = types.ShardIteratorTypeAfterSequenceNumber, aws.String(seq)
	}
	out, err := p.Streams.GetShardIterator(ctx, in)
	var trimmed *types.TrimmedDataAccessException
	if resume && errors.As(err, &trimmed) {
		p.Log.ErrorContext(ctx, "stream records after the checkpoint were trimmed before delivery; starting at the oldest record",
			"function", p.Mapping.Function, "shard", shard, "after_sequence_number", seq)
		in.ShardIteratorType, in.SequenceNumber = types.ShardIteratorTypeTrimHorizon, nil
		out, err = p.Streams.GetShardIterator(ctx, in)
	}
	if err != nil {
		return nil, err
	}
	return out.ShardIterator, nil
}

// deliver hands records to the function until they succeed or the mapping
// gives up on them (then they are dead-lettered), and checkpoints past them.
// It reports false when ctx ended first: then nothing is checkpointed, and
// the records are delivered again on the next start.
func (p *Poller) deliver(ctx context.Context, streamArn, shard string, records []types.Record) bool {
	var batch []events.DynamoDBEventRecord
	for _, r := range records {
		ev, generic, err := streamevents.LambdaRecord(r, streamArn)
		if err != nil {
			p.Log.ErrorContext(ctx, "stream record not convertible", "error", err.Error())
			continue
		}
		if streamevents.MatchAny(p.filters, generic) {
			batch = append(batch, ev)
		}
	}
	invokes, retries := 0, 0
	var lastErr error
	for len(batch) > 0 {
		if n := p.expired(batch); n > 0 {
			if !p.giveUp(ctx, shard, batch[:n], streamevents.ConditionRecordAge, invokes, lastErr) {
				return false
			}
			batch = batch[n:]
			continue
		}
		failedFrom, err := p.invoke(ctx, batch)
		invokes++
		lastErr = err
		if ctx.Err() != nil {
			return false
		}
		if err == nil && failedFrom < 0 {
			break
		}
		if err == nil {
			batch = batch[failedFrom:] // the first failed record and everything after it
		}
		if limit := p.Mapping.MaximumRetryAttempts; limit >= 0 && retries >= limit {
			if !p.giveUp(ctx, shard, batch, streamevents.ConditionRetriesExhausted, invokes, lastErr) {
				return false
			}
			break
		}
		if err != nil && p.Mapping.BisectBatchOnError && len(batch) > 1 {
			// Bisect: retry the first half on its own; the rest follows.
			// Splitting does not count as a retry.
			half := batch[:len(batch)/2]
			failed, herr := p.invoke(ctx, half)
			invokes++
			if herr == nil && failed < 0 {
				batch = batch[len(half):]
			}
		}
		retries++
		wait := p.backoff(retries)
		reason := "the function reported failed records"
		if err != nil {
			reason = err.Error()
		}
		p.Log.WarnContext(ctx, "stream batch failed; retrying", "function", p.Mapping.Function, "records", len(batch),
			"retry", retries, "in", wait.Round(time.Millisecond).String(), "from_sequence", batch[0].Change.SequenceNumber,
			"error", reason)
		if !sleep(ctx, wait) {
			return false
		}
	}
	p.mu.Lock()
	p.done[shard] = aws.ToString(records[len(records)-1].Dynamodb.SequenceNumber)
	p.mu.Unlock()
	p.saveCheckpoint()
	return true
}

// expired counts the leading records older than the mapping's record age
// limit (records are in stream order, so the old ones come first).
func (p *Poller) expired(batch []events.DynamoDBEventRecord) int {
	if p.Mapping.MaximumRecordAge <= 0 {
		return 0
	}
	oldest := p.Now().Add(-time.Duration(p.Mapping.MaximumRecordAge) * time.Second)
	n := 0
	for ; n < len(batch); n++ {
		created := batch[n].Change.ApproximateCreationDateTime.Time
		if created.IsZero() || !created.Before(oldest) {
			break
		}
	}
	return n
}

// invoke returns the index of the first failed record (-1 when none), or an
// error when the whole batch failed.
func (p *Poller) invoke(ctx context.Context, batch []events.DynamoDBEventRecord) (int, error) {
	payload, err := json.Marshal(events.DynamoDBEvent{Records: batch})
	if err != nil {
		return 0, err
	}
	ictx := lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: "stream-" + batch[0].Change.SequenceNumber})
	out, err := p.Handler.Invoke(ictx, payload)
	if err != nil {
		return 0, err
	}
	if !p.Mapping.ReportBatchFailures {
		return -1, nil
	}
	var resp events.DynamoDBEventResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		return 0, fmt.Errorf("batch response: %w", err)
	}
	first := -1
	for _, f := range resp.BatchItemFailures {
		idx := -1
		for i, r := range batch {
			if r.Change.SequenceNumber == f.ItemIdentifier {
				idx = i
			}
		}
		if idx < 0 {
			// Lambda treats an unknown identifier as a failure of the whole batch.
			return 0, fmt.Errorf("batch response names unknown record %q", f.ItemIdentifier)
		}
		if first < 0 || idx < first {
			first = idx
		}
	}
	return first, nil
}

// giveUp sends the batch's place in the stream to the dead-letter
// destination, as Lambda does when a batch exhausts its retries or its
// records their age. It reports false when ctx ended before the entry was
// written (the batch must not be checkpointed then).
func (p *Poller) giveUp(ctx context.Context, shard string, batch []events.DynamoDBEventRecord, condition string, invokes int, lastErr error) bool {
	first, end := batch[0], batch[len(batch)-1]
	d := streamevents.DeadLetter{
		RequestContext: streamevents.DeadLetterRequest{RequestID: requestID(), FunctionArn: functionArn(first.EventSourceArn, p.Mapping.Function),
			Condition: condition, ApproximateInvokeCount: invokes},
		ResponseContext: streamevents.DeadLetterResponse{StatusCode: 200, ExecutedVersion: "$LATEST"},
		Version:         "1.0",
		Timestamp:       time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		Batch: streamevents.BatchInfo{
			ShardID:                         shard,
			StartSequenceNumber:             first.Change.SequenceNumber,
			EndSequenceNumber:               end.Change.SequenceNumber,
			ApproximateArrivalOfFirstRecord: first.Change.ApproximateCreationDateTime.UTC().Format(time.RFC3339),
			ApproximateArrivalOfLastRecord:  end.Change.ApproximateCreationDateTime.UTC().Format(time.RFC3339),
			BatchSize:                       len(batch),
			StreamArn:                       first.EventSourceArn,
		},
	}
	reason := "the function reported failed records"
	if lastErr != nil {
		d.ResponseContext.FunctionError = "Unhandled"
		reason = lastErr.Error()
	}
	if p.DeadLetter == nil {
		p.Log.ErrorContext(ctx, "stream batch dropped: no dead-letter destination", "function", p.Mapping.Function,
			"condition", condition, "shard", d.Batch.ShardID, "start_sequence_number", d.Batch.StartSequenceNumber,
			"end_sequence_number", d.Batch.EndSequenceNumber, "records", len(batch), "reason", reason)
		return true
	}
	line, err := json.Marshal(d)
	if err != nil {
		p.Log.ErrorContext(ctx, "dead-letter entry", "error", err.Error())
		return true
	}
	for attempt := 1; ; attempt++ {
		_, err := p.DeadLetter.Write(append(line, '\n'))
		if err == nil {
			break
		}
		p.Log.ErrorContext(ctx, "dead-letter write failed; retrying", "error", err.Error())
		if !sleep(ctx, p.backoff(attempt)) {
			return false
		}
	}
	p.Log.ErrorContext(ctx, "stream batch sent to the dead-letter destination; replay it (make audit-replay)",
		"function", p.Mapping.Function, "condition", condition, "shard", d.Batch.ShardID,
		"start_sequence_number", d.Batch.StartSequenceNumber, "end_sequence_number", d.Batch.EndSequenceNumber,
		"records", len(batch), "invocations", invokes, "reason", reason)
	return true
}

// requestID is a random UUID (version 4), as Lambda's request ids are.
func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// functionArn names the function in the stream's region and account.
func functionArn(streamArn, function string) string {
	parts := strings.SplitN(streamArn, ":", 6)
	if len(parts) < 6 {
		return function
	}
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", parts[3], parts[4], function)
}

func (p *Poller) loadCheckpoint() map[string]string {
	m := map[string]string{}
	if p.Checkpoint == "" {
		return m
	}
	if b, err := os.ReadFile(p.Checkpoint); err == nil {
		_ = json.Unmarshal(b, &m)
	}
	return m
}

func (p *Poller) saveCheckpoint() {
	if p.Checkpoint == "" {
		return
	}
	p.mu.Lock()
	b, _ := json.Marshal(p.done)
	p.mu.Unlock()
	tmp := p.Checkpoint + ".tmp"
	if os.WriteFile(tmp, b, 0o600) == nil {
		_ = os.Rename(tmp, p.Checkpoint)
	}
}

// sleep waits d and reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
