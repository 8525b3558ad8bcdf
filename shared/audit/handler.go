package audit

import (
	"context"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"
)

// DefaultConcurrency is how many writes a batch has under way at once.
const DefaultConcurrency = 16

// Handler is the audit function: it writes the audit records of a batch of
// stream records and reports, by sequence number, the records it could not
// finish, so that only those (and what follows them) are retried.
type Handler struct {
	DB          Writer
	Table       string
	Log         *slog.Logger
	Concurrency int // writes under way at once; DefaultConcurrency when 0
}

// Handle processes one batch. Records are independent (each audit record
// has its own id and is written with a conditional put), so the batch's
// records are written together (PutAll); every stream record with a
// failed audit record is reported, and Lambda retries from the first.
func (h *Handler) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	log := h.Log
	if log == nil {
		log = slog.Default()
	}
	limit := h.Concurrency
	if limit <= 0 {
		limit = DefaultConcurrency
	}
	errs := make([]error, len(ev.Records))
	var recs []Record
	var from []int // the stream record each audit record comes from
	for i, r := range ev.Records {
		out, err := FromStream(r)
		if err != nil {
			errs[i] = err
			continue
		}
		for _, rec := range out {
			recs = append(recs, rec)
			from = append(from, i)
		}
	}
	for j, err := range PutAll(ctx, h.DB, h.Table, recs, limit) {
		if err != nil && errs[from[j]] == nil {
			errs[from[j]] = err
		}
	}
	resp := events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{}}
	var firstErr error
	for i, err := range errs {
		if err == nil {
			continue
		}
		if firstErr == nil {
			firstErr = err
		}
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: ev.Records[i].Change.SequenceNumber})
	}
	if firstErr != nil {
		// One line a batch: an outage fails every record alike.
		log.ErrorContext(ctx, "audit records failed", "failed", len(resp.BatchItemFailures), "records", len(ev.Records),
			"first_sequence_number", resp.BatchItemFailures[0].ItemIdentifier, "error", firstErr.Error())
	}
	return resp, nil
}
