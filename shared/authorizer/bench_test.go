package authorizer_test

import (
	"context"
	"testing"
	"time"

	"github.com/flowella/apikeys/shared/authorizer"
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
