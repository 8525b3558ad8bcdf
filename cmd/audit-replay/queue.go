package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/flowella/apikeys/shared/streamevents"
)

// queue holds dead-letter entries: the SQS queue in AWS, the local stack's
// file locally.
type queue interface {
	// receive returns entries not yet seen in this run; none once all were.
	receive(ctx context.Context) ([]message, error)
	// remove deletes a replayed entry.
	remove(ctx context.Context, m message) error
}

type message struct {
	entry  streamevents.DeadLetter
	id     string // for the operator
	handle string // SQS receipt handle
	err    error  // the entry could not be read
}

// fileQueue is the local stack's dead-letter file.
type fileQueue struct {
	file streamevents.DeadLetterFile
	read bool
}

func (q *fileQueue) receive(context.Context) ([]message, error) {
	if q.read {
		return nil, nil
	}
	q.read = true
	entries, err := q.file.Read()
	if err != nil {
		return nil, err
	}
	out := make([]message, len(entries))
	for i, e := range entries {
		out[i] = message{entry: e, id: fmt.Sprintf("%s line %d", q.file.Path, i+1)}
	}
	return out, nil
}

func (q *fileQueue) remove(_ context.Context, m message) error {
	return q.file.Remove([]streamevents.DeadLetter{m.entry})
}

// SQS is what replaying needs of the dead-letter queue.
type SQS interface {
	ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(context.Context, *sqs.DeleteMessageInput, ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
}

// sqsQueue is the AuditDeadLetterQueue. A received message stays hidden
// for the visibility timeout; one that is not replayed (and so not deleted)
// comes back after it, for the next run.
type sqsQueue struct {
	client SQS
	url    string
	seen   map[string]bool
}

// visibilityTimeout outlasts one run's replay of ten entries.
const visibilityTimeout = 900

func (q *sqsQueue) receive(ctx context.Context) ([]message, error) {
	out, err := q.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(q.url), MaxNumberOfMessages: 10, WaitTimeSeconds: 2, VisibilityTimeout: visibilityTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("receive from %s: %w", q.url, err)
	}
	if q.seen == nil {
		q.seen = map[string]bool{}
	}
	var msgs []message
	for _, m := range out.Messages {
		id := aws.ToString(m.MessageId)
		if q.seen[id] {
			continue // back after its visibility timeout: once a run is enough
		}
		q.seen[id] = true
		msg := message{id: "message " + id, handle: aws.ToString(m.ReceiptHandle)}
		if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &msg.entry); err != nil {
			msg.err = fmt.Errorf("not a dead-letter entry: %w", err)
		} else if msg.entry.Batch.ShardID == "" || msg.entry.Batch.StartSequenceNumber == "" {
			msg.err = fmt.Errorf("not a DynamoDB stream dead-letter entry (no DDBStreamBatchInfo)")
		}
		msgs = append(msgs, msg)
	}
	return msgs, nil
}

func (q *sqsQueue) remove(ctx context.Context, m message) error {
	_, err := q.client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(q.url), ReceiptHandle: aws.String(m.handle)})
	if err != nil {
		return fmt.Errorf("delete %s: %w", m.id, err)
	}
	return nil
}
