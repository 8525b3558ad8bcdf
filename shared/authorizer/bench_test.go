package authorizer_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/flowella/apikeys/shared/authorizer"
	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/stamp"
)

// BenchmarkDecide measures, in the same loop, the authorizer's decision for a
// key with a typo (refused by its checksum, no I/O) and for a valid key (one
// strongly consistent read on DynamoDB Local), and reports each and their ratio.
func BenchmarkDecide(b *testing.B) {
	f := newFixture(b)
	k := f.key(b)
	s := k.Secret()
	typo := s[:20] + string(s[21]) + string(s[20]) + s[22:]
	var valid, malformed time.Duration
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		if d, err := f.decide(s); err != nil || d.Outcome != authorizer.Allow {
			b.Fatalf("valid key: %v %v", d.Outcome, err)
		}
		mid := time.Now()
		if d, err := f.decide(typo); err != nil || d.Outcome != authorizer.Unauthenticated {
			b.Fatalf("typo: %v %v", d.Outcome, err)
		}
		valid += mid.Sub(start)
		malformed += time.Since(mid)
		n++
	}
	b.ReportMetric(float64(valid.Nanoseconds())/float64(n), "ns/valid")
	b.ReportMetric(float64(malformed.Nanoseconds())/float64(n), "ns/malformed")
	b.ReportMetric(float64(valid)/float64(malformed), "valid/malformed")
}

func (f *fixture) decide(token string) (authorizer.Decision, error) {
	return f.authz.Decide(context.Background(), authorizer.Request{Token: token, Method: "GET", Path: "/v1/whoami"})
}

// BenchmarkInvoke measures the authorizer's whole Lambda path — a REST
// REQUEST event as JSON bytes in, the policy as JSON bytes out, as the
// runtime calls it — on the in-memory fakes, so that what it reports is the
// authorizer's own CPU and allocations, without DynamoDB's.
func BenchmarkInvoke(b *testing.B) {
	f := newDecideFixture(b)
	// Used a second ago: no last-used write.
	secret, _ := f.add(b, "org_paid", []string{"*"}, func(k *keystore.Key) { k.LastUsedAt = stamp.Of(f.now.Add(-time.Second)) })
	h := lambda.NewHandler(f.auth)
	event := requestEvent("GET", "/v1/whoami", "Bearer "+secret.Secret())
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"})
	b.ReportAllocs()
	for b.Loop() {
		f.logs.Reset() // the decision line is written, and dropped here
		out, err := h.Invoke(ctx, event)
		if err != nil || !bytes.Contains(out, []byte(`"Effect":"Allow"`)) {
			b.Fatalf("%s %v", out, err)
		}
	}
}
