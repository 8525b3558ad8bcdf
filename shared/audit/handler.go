package audit

import (
	"context"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"
)

// Handler is the audit function: it writes the audit records of a batch of
// stream records and reports, by sequence number, the records it could not
// finish, so that only those (and what follows them) are retried.
type Handler struct {
	DB    Writer
	Table string
	Log   *slog.Logger
}

// Handle processes one batch.
func (h *Handler) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	log := h.Log
	if log == nil {
		log = slog.Default()
	}
	resp := events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{}}
	for _, r := range ev.Records {
		if err := h.record(ctx, r); err != nil {
			log.ErrorContext(ctx, "audit record failed", "sequence_number", r.Change.SequenceNumber, "event_id", r.EventID, "error", err.Error())
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: r.Change.SequenceNumber})
		}
	}
	return resp, nil
}

func (h *Handler) record(ctx context.Context, r events.DynamoDBEventRecord) error {
	recs, err := FromStream(r)
	if err != nil {
		return err
	}
	for _, rec := range recs {
		if err := Put(ctx, h.DB, h.Table, rec); err != nil {
			return err
		}
	}
	return nil
}
