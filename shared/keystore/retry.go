package keystore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// How writes that lose a transaction conflict are retried.
//
// DynamoDB cancels a transaction with TransactionConflict, and refuses a
// single write with TransactionConflictException, while another transaction
// holds one of its items: two creates in one organisation both update the
// organisation's item, and a revoke meets the authorizer's last-used write.
// Nothing was written and no condition was evaluated, so the very same write
// is tried again. The holder is one transaction, done in tens of
// milliseconds, so the first pause is about that (25 ms, also the SDK's own
// base delay for DynamoDB) and each one doubles; "full jitter" (a uniformly
// random pause up to that bound) keeps the contenders from colliding again in
// step. Six attempts wait at most 25+50+100+200+400 ms = 775 ms in all, far
// inside the functions' 10 s timeout; the 1 s cap only bounds a longer
// schedule. A write that still conflicts gets ErrContention, which the API
// answers 503 (try again), never 409: the client did nothing wrong.
const (
	conflictAttempts = 6
	conflictBase     = 25 * time.Millisecond
	conflictCap      = time.Second
)

// transact runs a write transaction, retrying it on transaction conflicts.
// Each attempt is a new request (a new client token), since the cancelled
// one wrote nothing.
func (s *Store) transact(ctx context.Context, items []types.TransactWriteItem) error {
	return retryConflicts(ctx, func() error {
		_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		return err
	})
}

// updateItem is UpdateItem, retried on transaction conflicts.
func (s *Store) updateItem(ctx context.Context, in *dynamodb.UpdateItemInput) (*dynamodb.UpdateItemOutput, error) {
	var out *dynamodb.UpdateItemOutput
	err := retryConflicts(ctx, func() error {
		var err error
		out, err = s.db.UpdateItem(ctx, in)
		return err
	})
	return out, err
}

func retryConflicts(ctx context.Context, write func() error) error {
	for attempt := 1; ; attempt++ {
		err := write()
		if !conflicted(err) {
			return err
		}
		if attempt == conflictAttempts {
			return fmt.Errorf("%w (%d attempts): %w", ErrContention, attempt, err)
		}
		t := time.NewTimer(backoff(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w: %w", ctx.Err(), err)
		case <-t.C:
		}
	}
}

// backoff is the pause after the attempt-th attempt: uniformly random up to
// conflictBase·2^(attempt-1), at most conflictCap.
func backoff(attempt int) time.Duration {
	bound := conflictCap
	if attempt <= 16 {
		bound = min(conflictCap, conflictBase<<(attempt-1))
	}
	return rand.N(bound + 1)
}

// conflicted reports whether err is a transaction conflict and nothing else:
// a cancellation that also names a failed condition is that condition's
// answer, not a conflict.
func conflicted(err error) bool {
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		conflict := false
		for _, r := range tce.CancellationReasons {
			switch code := derefCode(r.Code); code {
			case "TransactionConflict":
				conflict = true
			case "None", "":
			default:
				return false
			}
		}
		return conflict
	}
	var tc *types.TransactionConflictException
	return errors.As(err, &tc)
}

func derefCode(c *string) string {
	if c == nil {
		return ""
	}
	return *c
}

// Unavailable reports whether err means DynamoDB could not take the write or
// read now — a transaction conflict on every attempt, or throttling that the
// SDK's own retries did not outlast — so that the client should try again in
// a moment rather than change its request.
func Unavailable(err error) bool {
	if errors.Is(err, ErrContention) {
		return true
	}
	if reasons, ok := cancellation(err); ok {
		for _, r := range reasons {
			if r == "ThrottlingError" || r == "ProvisionedThroughputExceeded" {
				return true
			}
		}
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded", "TransactionInProgressException":
			return true
		}
	}
	return false
}
