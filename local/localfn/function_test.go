package localfn_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/flowella/apikeys/local/localfn"
)

type echo struct {
	Caller string `json:"caller"`
	Seq    int    `json:"seq"`
}

// A fast handler invoked from many goroutines is where a shared
// lambda.Handler hands out another caller's bytes; every answer here must be
// its own request's.
func TestConcurrentInvocationsKeepTheirOwnAnswers(t *testing.T) {
	fn := localfn.New("Echo", func(_ context.Context, in echo) (echo, error) { return in, nil }, 0)
	const callers, each = 16, 2000
	var wrong atomic.Int64
	var wg sync.WaitGroup
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				want := echo{Caller: fmt.Sprintf("caller-%02d", c), Seq: i}
				payload, _ := json.Marshal(want)
				out, err := fn.Invoke(context.Background(), payload)
				var got echo
				if err != nil || json.Unmarshal(out, &got) != nil || got != want {
					wrong.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := wrong.Load(); n != 0 {
		t.Fatalf("%d of %d invocations answered with another invocation's bytes", n, callers*each)
	}
}

func TestInvocationsBeyondTheLimitAreThrottled(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 2)
	fn := localfn.New("Slow", func(_ context.Context, in echo) (echo, error) {
		started <- struct{}{}
		<-release
		return in, nil
	}, 2)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := fn.Invoke(context.Background(), []byte(`{}`)); err != nil {
				t.Errorf("invocation within the limit: %v", err)
			}
		}()
	}
	<-started
	<-started
	if _, err := fn.Invoke(context.Background(), []byte(`{}`)); !errors.Is(err, localfn.ErrThrottled) {
		t.Fatalf("third concurrent invocation: err = %v, want ErrThrottled", err)
	}
	close(release)
	wg.Wait()
	if _, err := fn.Invoke(context.Background(), []byte(`{"caller":"after"}`)); err != nil {
		t.Fatalf("after the others finished: %v", err)
	}
}

func TestHandlerErrorsComeBackAsLambdaErrors(t *testing.T) {
	fn := localfn.New("Fails", func(context.Context, echo) (echo, error) { return echo{}, errors.New("boom") }, 1)
	_, err := fn.Invoke(context.Background(), []byte(`{}`))
	if err == nil || err.Error() != "boom" {
		t.Fatalf("err = %v, want the handler's error", err)
	}
}
