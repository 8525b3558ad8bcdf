// Package localfn emulates Lambda's concurrency model for one function: a
// pool of execution environments, each handling one invocation at a time, up
// to a concurrency limit, as the local stack's gateway and stream pollers
// invoke them from many goroutines.
//
// Lambda never hands one execution environment two events at once, and code
// written for Lambda may rely on that: aws-lambda-go's handler returns bytes
// from a buffer that goes back to its pool when Invoke returns, so two
// overlapping invocations of one lambda.Handler can hand one caller the
// other's answer. Here each environment has its own lambda.Handler, and an
// answer is copied before its environment takes the next event.
package localfn

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/lambda"
)

// DefaultConcurrency is Lambda's default per-region account limit, used for
// functions whose template sets no ReservedConcurrentExecutions.
const DefaultConcurrency = 1000

// ErrThrottled is Lambda's TooManyRequestsException: every environment the
// function may have is busy.
var ErrThrottled = errors.New("TooManyRequestsException: Rate Exceeded")

// Function is one Lambda function's environments. It is safe for concurrent
// use; it implements lambda.Handler.
type Function struct {
	name    string
	handler any                 // what lambda.Start would be given
	idle    chan lambda.Handler // environments waiting for an event
	running chan struct{}       // one token per invocation in progress
}

// New emulates function name whose code is handler (any handler
// lambda.NewHandler accepts), with at most limit concurrent invocations;
// limit ≤ 0 means DefaultConcurrency.
func New(name string, handler any, limit int) *Function {
	if limit <= 0 {
		limit = DefaultConcurrency
	}
	return &Function{name: name, handler: handler,
		idle: make(chan lambda.Handler, limit), running: make(chan struct{}, limit)}
}

// Name is the function's logical id.
func (f *Function) Name() string { return f.name }

// Invoke runs one invocation on an idle environment, or on a new one while
// the function is under its limit; at the limit it fails with ErrThrottled,
// as Lambda does for synchronous invocations. The answer is the caller's
// own copy.
func (f *Function) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	select {
	case f.running <- struct{}{}:
	default:
		return nil, fmt.Errorf("invoke %s: %w", f.name, ErrThrottled)
	}
	defer func() { <-f.running }()
	var env lambda.Handler
	select {
	case env = <-f.idle:
	default:
		env = lambda.NewHandler(f.handler)
	}
	out, err := env.Invoke(ctx, payload)
	out = bytes.Clone(out) // before env can take another event
	f.idle <- env          // never blocks: at most limit environments exist
	return out, err
}
