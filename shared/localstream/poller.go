// Package localstream delivers a DynamoDB Local table's stream to the
// function template.yaml maps to it, as Lambda's event source mapping does:
// batches of records in the Lambda event shape, event filtering, partial
// batch responses (the failed records and the rest of the batch are
// retried), bounded retries, and a dead-letter file after that.
package localstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/flowella/apikeys/shared/samtemplate"
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
	Checkpoint string    // file keeping the last delivered sequence number per shard; "" keeps none
	DeadLetter io.Writer // where batches go after their last retry
	Log        *slog.Logger
	Interval   time.Duration // between polls of an idle stream
	Backoff    time.Duration // before a retry

	filters []Filter
	mu      sync.Mutex
	done    map[string]string // shard id -> last sequence number handled
}

// Run polls until ctx ends.
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
	for _, pat := range p.Mapping.FilterPatterns {
		f, err := ParseFilter(pat)
		if err != nil {
			return fmt.Errorf("stream %s → %s: %w", p.TableName, p.Mapping.Function, err)
		}
		p.filters = append(p.filters, f)
	}
	p.done = p.loadCheckpoint()
	desc, err := p.Tables.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(p.TableName)})
	if err != nil {
		return fmt.Errorf("describe %s: %w", p.TableName, err)
	}
	streamArn := aws.ToString(desc.Table.LatestStreamArn)
	if streamArn == "" {
		return fmt.Errorf("table %s has no stream", p.TableName)
	}
	iterators := map[string]*string{}
	closed := map[string]bool{}
	for ctx.Err() == nil {
		shards, err := p.shards(ctx, streamArn)
		if err != nil {
			p.Log.WarnContext(ctx, "describe stream failed", "error", err.Error())
			sleep(ctx, time.Second)
			continue
		}
		idle := true
		for _, sh := range shards {
			id := aws.ToString(sh.ShardId)
			if closed[id] {
				continue
			}
			if iterators[id] == nil {
				it, err := p.iterator(ctx, streamArn, id)
				if err != nil {
					p.Log.WarnContext(ctx, "shard iterator failed", "shard", id, "error", err.Error())
					continue
				}
				iterators[id] = it
			}
			out, err := p.Streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iterators[id], Limit: aws.Int32(int32(p.Mapping.BatchSize))})
			var expired *types.ExpiredIteratorException
			if errors.As(err, &expired) {
				iterators[id] = nil
				continue
			}
			if err != nil {
				if ctx.Err() == nil {
					p.Log.WarnContext(ctx, "get records failed", "shard", id, "error", err.Error())
				}
				iterators[id] = nil
				continue
			}
			if len(out.Records) > 0 {
				idle = false
				p.deliver(ctx, streamArn, id, out.Records)
			}
			if out.NextShardIterator == nil {
				closed[id] = true
			}
			iterators[id] = out.NextShardIterator
		}
		if idle {
			sleep(ctx, p.Interval)
		}
	}
	return nil
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

func (p *Poller) iterator(ctx context.Context, streamArn, shard string) (*string, error) {
	in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(streamArn), ShardId: aws.String(shard),
		ShardIteratorType: types.ShardIteratorTypeTrimHorizon}
	p.mu.Lock()
	if seq, ok := p.done[shard]; ok {
		in.ShardIteratorType, in.SequenceNumber = types.ShardIteratorTypeAfterSequenceNumber, aws.String(seq)
	}
	p.mu.Unlock()
	out, err := p.Streams.GetShardIterator(ctx, in)
	if err != nil {
		return nil, err
	}
	return out.ShardIterator, nil
}

// deliver hands records to the function, retrying as the mapping says, and
// checkpoints past them.
func (p *Poller) deliver(ctx context.Context, streamArn, shard string, records []types.Record) {
	var batch []events.DynamoDBEventRecord
	for _, r := range records {
		ev, generic, err := toLambdaRecord(r, streamArn)
		if err != nil {
			p.Log.ErrorContext(ctx, "stream record not convertible", "error", err.Error())
			continue
		}
		if p.passes(generic) {
			batch = append(batch, ev)
		}
	}
	for attempt := 0; len(batch) > 0 && ctx.Err() == nil; attempt++ {
		failedFrom, err := p.invoke(ctx, batch)
		if err == nil && failedFrom < 0 {
			break
		}
		if err == nil {
			batch = batch[failedFrom:] // the first failed record and everything after it
		}
		if p.Mapping.MaximumRetryAttempts >= 0 && attempt >= p.Mapping.MaximumRetryAttempts {
			p.deadLetter(ctx, shard, batch, err)
			break
		}
		if err != nil && p.Mapping.BisectBatchOnError && len(batch) > 1 {
			// Bisect: retry the first half on its own; the rest follows.
			half := batch[:len(batch)/2]
			if failed, herr := p.invoke(ctx, half); herr == nil && failed < 0 {
				batch = batch[len(half):]
			}
		}
		sleep(ctx, p.Backoff*time.Duration(attempt+1))
	}
	if ctx.Err() != nil {
		return // not delivered: do not checkpoint past it
	}
	p.mu.Lock()
	p.done[shard] = aws.ToString(records[len(records)-1].Dynamodb.SequenceNumber)
	p.mu.Unlock()
	p.saveCheckpoint()
}

func (p *Poller) passes(generic map[string]any) bool {
	if len(p.filters) == 0 {
		return true
	}
	for _, f := range p.filters {
		if f.Match(generic) {
			return true
		}
	}
	return false
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
		p.Log.WarnContext(ctx, "stream batch failed", "function", p.Mapping.Function, "records", len(batch), "error", err.Error())
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
	if first >= 0 {
		p.Log.WarnContext(ctx, "stream records failed; retrying", "function", p.Mapping.Function,
			"failed", len(resp.BatchItemFailures), "from_sequence", batch[first].Change.SequenceNumber)
	}
	return first, nil
}

type deadLetter struct {
	Time          string   `json:"time"`
	Function      string   `json:"function"`
	Shard         string   `json:"shard"`
	Reason        string   `json:"reason"`
	FirstSequence string   `json:"first_sequence_number"`
	LastSequence  string   `json:"last_sequence_number"`
	EventIDs      []string `json:"event_ids"`
}

func (p *Poller) deadLetter(ctx context.Context, shard string, batch []events.DynamoDBEventRecord, err error) {
	reason := "records failed after the last retry"
	if err != nil {
		reason = err.Error()
	}
	d := deadLetter{Time: time.Now().UTC().Format(time.RFC3339Nano), Function: p.Mapping.Function, Shard: shard,
		Reason: reason, FirstSequence: batch[0].Change.SequenceNumber, LastSequence: batch[len(batch)-1].Change.SequenceNumber}
	for _, r := range batch {
		d.EventIDs = append(d.EventIDs, r.EventID)
	}
	p.Log.ErrorContext(ctx, "stream batch sent to the dead-letter file", "function", p.Mapping.Function, "records", len(batch))
	if p.DeadLetter != nil {
		b, _ := json.Marshal(d)
		_, _ = p.DeadLetter.Write(append(b, '\n'))
	}
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

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// toLambdaRecord turns a DynamoDB Streams record into the record Lambda
// delivers, and into generic JSON for event filtering.
func toLambdaRecord(r types.Record, streamArn string) (events.DynamoDBEventRecord, map[string]any, error) {
	sr := r.Dynamodb
	wire := map[string]any{
		"eventID":        aws.ToString(r.EventID),
		"eventName":      string(r.EventName),
		"eventVersion":   aws.ToString(r.EventVersion),
		"eventSource":    "aws:dynamodb",
		"awsRegion":      aws.ToString(r.AwsRegion),
		"eventSourceARN": streamArn,
	}
	change := map[string]any{
		"SequenceNumber": aws.ToString(sr.SequenceNumber),
		"SizeBytes":      aws.ToInt64(sr.SizeBytes),
		"StreamViewType": string(sr.StreamViewType),
	}
	if sr.ApproximateCreationDateTime != nil {
		change["ApproximateCreationDateTime"] = sr.ApproximateCreationDateTime.Unix()
	}
	for name, img := range map[string]map[string]types.AttributeValue{"Keys": sr.Keys, "NewImage": sr.NewImage, "OldImage": sr.OldImage} {
		if img == nil {
			continue
		}
		ddb, err := attributevalue.FromDynamoDBStreamsMap(img)
		if err != nil {
			return events.DynamoDBEventRecord{}, nil, err
		}
		j, err := attributevalue.MarshalMapJSON(ddb)
		if err != nil {
			return events.DynamoDBEventRecord{}, nil, err
		}
		change[name] = json.RawMessage(j)
	}
	wire["dynamodb"] = change
	b, err := json.Marshal(wire)
	if err != nil {
		return events.DynamoDBEventRecord{}, nil, err
	}
	var rec events.DynamoDBEventRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return events.DynamoDBEventRecord{}, nil, err
	}
	var generic map[string]any
	if err := json.Unmarshal(b, &generic); err != nil {
		return events.DynamoDBEventRecord{}, nil, err
	}
	return rec, generic, nil
}
