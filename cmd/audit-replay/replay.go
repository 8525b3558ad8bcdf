package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/flowella/apikeys/shared/streamevents"
)

// errTrimmed: the stream no longer holds the range (DynamoDB Streams keeps
// records 24 hours).
var errTrimmed = errors.New("the records are no longer in the stream (DynamoDB Streams keeps them 24 hours)")

// Streams is what replaying needs of DynamoDB Streams.
type Streams interface {
	GetShardIterator(context.Context, *dynamodbstreams.GetShardIteratorInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(context.Context, *dynamodbstreams.GetRecordsInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

// replayer hands the records of dead-lettered ranges to the audit
// function's handler again. The handler writes each audit record with a
// conditional put under an id derived from the stream record, so records
// that were audited already (or replayed before) add nothing.
type replayer struct {
	streams   Streams
	handle    handlerFunc
	filters   []streamevents.Filter // the event source mapping's filter
	batchSize int
	attempts  int           // invocations of one batch before giving up on the entry
	backoff   time.Duration // before the first retry; doubles
	// streamArn names the stream for entries that do not (the local file's
	// earlier format).
	streamArn func(context.Context) (string, error)
	log       *slog.Logger
}

// replay reprocesses one entry's range and returns how many records it
// handed to the function.
func (r *replayer) replay(ctx context.Context, d streamevents.DeadLetter) (int, error) {
	streamArn := d.Batch.StreamArn
	if streamArn == "" {
		if r.streamArn == nil {
			return 0, errors.New("the entry names no stream")
		}
		var err error
		if streamArn, err = r.streamArn(ctx); err != nil {
			return 0, err
		}
	}
	records, err := r.read(ctx, streamArn, d.Batch)
	if err != nil {
		return 0, err
	}
	var batch []events.DynamoDBEventRecord
	for _, rec := range records {
		ev, generic, err := streamevents.LambdaRecord(rec, streamArn)
		if err != nil {
			return 0, fmt.Errorf("record %s: %w", aws.ToString(rec.Dynamodb.SequenceNumber), err)
		}
		if streamevents.MatchAny(r.filters, generic) {
			batch = append(batch, ev)
		}
	}
	for start := 0; start < len(batch); start += r.batchSize {
		if err := r.deliver(ctx, batch[start:min(start+r.batchSize, len(batch))]); err != nil {
			return 0, err
		}
	}
	return len(batch), nil
}

// read returns the records from the range's first sequence number to its
// last, both included.
func (r *replayer) read(ctx context.Context, streamArn string, b streamevents.BatchInfo) ([]types.Record, error) {
	it, err := r.streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
		StreamArn: aws.String(streamArn), ShardId: aws.String(b.ShardID),
		ShardIteratorType: types.ShardIteratorTypeAtSequenceNumber, SequenceNumber: aws.String(b.StartSequenceNumber),
	})
	var trimmed *types.TrimmedDataAccessException
	var gone *types.ResourceNotFoundException
	if errors.As(err, &trimmed) || errors.As(err, &gone) {
		return nil, fmt.Errorf("%w: %s", errTrimmed, err.Error())
	}
	if err != nil {
		return nil, fmt.Errorf("shard iterator: %w", err)
	}
	var out []types.Record
	iterator, empty := it.ShardIterator, 0
	for iterator != nil {
		page, err := r.streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iterator, Limit: aws.Int32(1000)})
		if errors.As(err, &trimmed) {
			return nil, fmt.Errorf("%w: %s", errTrimmed, err.Error())
		}
		if err != nil {
			return nil, fmt.Errorf("get records: %w", err)
		}
		for _, rec := range page.Records {
			seq := aws.ToString(rec.Dynamodb.SequenceNumber)
			if len(out) == 0 && compareSequence(seq, b.StartSequenceNumber) != 0 {
				return nil, fmt.Errorf("%w: the range's first record %s is gone (the shard starts at %s)", errTrimmed, b.StartSequenceNumber, seq)
			}
			if compareSequence(seq, b.EndSequenceNumber) > 0 {
				return out, nil
			}
			out = append(out, rec)
			if seq == b.EndSequenceNumber {
				return out, nil
			}
		}
		// An open shard can answer empty pages before its next records.
		if len(page.Records) == 0 {
			if empty++; empty == 5 {
				break
			}
			time.Sleep(200 * time.Millisecond)
		} else {
			empty = 0
		}
		iterator = page.NextShardIterator
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: nothing at sequence number %s", errTrimmed, b.StartSequenceNumber)
	}
	return nil, fmt.Errorf("the stream ends at %s, before the range's last record %s",
		aws.ToString(out[len(out)-1].Dynamodb.SequenceNumber), b.EndSequenceNumber)
}

// deliver invokes the handler, retrying from the first failed record.
func (r *replayer) deliver(ctx context.Context, batch []events.DynamoDBEventRecord) error {
	wait := r.backoff
	for attempt := 1; ; attempt++ {
		resp, err := r.handle(ctx, events.DynamoDBEvent{Records: batch})
		if err == nil && len(resp.BatchItemFailures) == 0 {
			return nil
		}
		if err == nil {
			first := len(batch)
			for _, f := range resp.BatchItemFailures {
				for i, rec := range batch {
					if rec.Change.SequenceNumber == f.ItemIdentifier && i < first {
						first = i
					}
				}
			}
			if first == len(batch) {
				return fmt.Errorf("the function reported failures of records not in the batch: %v", resp.BatchItemFailures)
			}
			batch = batch[first:]
			err = fmt.Errorf("%d records failed, from %s (see the log above)", len(resp.BatchItemFailures), batch[0].Change.SequenceNumber)
		}
		if attempt == r.attempts {
			return fmt.Errorf("after %d attempts: %w", attempt, err)
		}
		r.log.WarnContext(ctx, "replay batch failed; retrying", "attempt", attempt, "in", wait.String(), "error", err.Error())
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// compareSequence orders stream sequence numbers: decimal strings of any
// length.
func compareSequence(a, b string) int {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}
