package stamp

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// oldLayout is keystore's TimeLayout, the only layout this project has
// written to its tables (keys, audit records, activity, idempotency).
const oldLayout = "2006-01-02T15:04:05.000Z"

func TestParse(t *testing.T) {
	want := Of(time.Date(2026, 11, 30, 4, 5, 6, 789_000_000, time.UTC))
	for _, tc := range []struct {
		name, in string
		want     Time
		bad      bool
	}{
		{name: "stored layout", in: "2026-11-30T04:05:06.789Z", want: want},
		{name: "RFC3339Nano, finer than a millisecond", in: "2026-11-30T04:05:06.789999999Z", want: want},
		{name: "RFC3339Nano, trailing zeros dropped", in: "2026-11-30T04:05:06.78Z", want: Of(time.Date(2026, 11, 30, 4, 5, 6, 780_000_000, time.UTC))},
		{name: "RFC3339, whole seconds", in: "2026-11-30T04:05:06Z", want: Of(time.Date(2026, 11, 30, 4, 5, 6, 0, time.UTC))},
		{name: "empty is not set", in: "", want: 0},
		{name: "first representable", in: "0001-01-01T00:00:00.001Z", want: 1},
		{name: "last representable", in: "9999-12-31T23:59:59.999Z", want: Max},
		{name: "offset: its text would not sort with the rest", in: "2026-11-30T06:05:06.789+02:00", bad: true},
		{name: "zero offset spelled out", in: "2026-11-30T04:05:06.789+00:00", want: want},
		{name: "negative offset", in: "2026-11-29T23:05:06.789-05:00", bad: true},
		{name: "zero offset, negative", in: "2026-11-30T04:05:06.789-00:00", want: want},
		{name: "lower-case z", in: "2026-11-30T04:05:06.789z", bad: true},
		{name: "no zone", in: "2026-11-30T04:05:06.789", bad: true},
		{name: "date only, a hand edit: midnight UTC", in: "2026-11-30", want: Of(time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC))},
		{name: "date with a time but no zone", in: "2026-11-30 04:05:06", bad: true},
		{name: "garbage", in: "yesterday", bad: true},
		{name: "Z alone", in: "Z", bad: true},
		{name: "month 13", in: "2026-13-30T04:05:06.789Z", bad: true},
		{name: "year 0", in: "0000-06-01T00:00:00.000Z", bad: true},
		{name: "zero of time.Time", in: "0001-01-01T00:00:00.000Z", bad: true},
		{name: "Unix seconds", in: "1764475506", bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.in)
			if tc.bad {
				if err == nil {
					t.Fatalf("Parse(%q) = %v, want an error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Parse(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestOf(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	for _, tc := range []struct {
		name string
		in   time.Time
		want string
	}{
		{name: "UTC", in: time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC), want: "2026-01-02T03:04:05.006Z"},
		{name: "another zone is written in UTC", in: time.Date(2026, 1, 2, 4, 4, 5, 0, paris), want: "2026-01-02T03:04:05.000Z"},
		{name: "truncated, not rounded", in: time.Date(2026, 1, 2, 3, 4, 5, 999_999_999, time.UTC), want: "2026-01-02T03:04:05.999Z"},
		{name: "before 1970", in: time.Date(1969, 12, 31, 23, 59, 59, 500_000_000, time.UTC), want: "1969-12-31T23:59:59.500Z"},
		{name: "zero time is not set", in: time.Time{}, want: ""},
		{name: "past year 9999 held at Max", in: time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC), want: "9999-12-31T23:59:59.999Z"},
		{name: "before year 1 is not set", in: time.Date(0, 6, 1, 0, 0, 0, 0, time.UTC), want: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Of(tc.in).String(); got != tc.want {
				t.Fatalf("Of(%v) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
	// The monotonic reading of time.Now is dropped; the instant is kept.
	now := time.Now()
	if got, want := Of(now).Time(), now.Truncate(time.Millisecond).UTC(); !got.Equal(want) || got.Location() != time.UTC {
		t.Fatalf("Of(now).Time() = %v, want %v in UTC", got, want)
	}
}

func TestAdd(t *testing.T) {
	at := Of(time.Date(2026, 1, 31, 23, 59, 59, 999_000_000, time.UTC))
	if got, want := at.Add(time.Millisecond).String(), "2026-02-01T00:00:00.000Z"; got != want {
		t.Errorf("Add(1ms) = %s, want %s", got, want)
	}
	if got, want := at.Add(-time.Minute).String(), "2026-01-31T23:58:59.999Z"; got != want {
		t.Errorf("Add(-1m) = %s, want %s", got, want)
	}
	if got := Max.Add(time.Hour); got != Max {
		t.Errorf("Max.Add(1h) = %s, want Max", got)
	}
	var unset Time
	if got := unset.Add(time.Hour); !got.IsZero() {
		t.Errorf("a time not set plus an hour = %s, want not set", got)
	}
}

// The layout every stored time was written in reads back as the same
// instant, and what is written now is the same text: old and new items
// compare with each other in DynamoDB.
func TestReadsWhatWasStored(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		at := time.Unix(r.Int64N(253402300800+62135596800)-62135596800, r.Int64N(1e9)).UTC()
		if at.Before(time.Date(1, 1, 1, 0, 0, 0, int(time.Millisecond), time.UTC)) {
			continue
		}
		old := at.Format(oldLayout)
		got, err := Parse(old)
		if err != nil {
			t.Fatalf("Parse(%q): %v", old, err)
		}
		if got.String() != old {
			t.Fatalf("Parse(%q).String() = %q", old, got.String())
		}
		if !got.Time().Equal(at.Truncate(time.Millisecond)) {
			t.Fatalf("Parse(%q) = %v, want %v", old, got.Time(), at.Truncate(time.Millisecond))
		}
	}
}

// FuzzOrder: for any two instants, their texts compare as the instants do,
// and each text is Layout's width and reads back as itself.
func FuzzOrder(f *testing.F) {
	f.Add(int64(0), int64(1))
	f.Add(int64(1764475506789), int64(1764475506790))
	f.Add(int64(-62135596800000), int64(253402300799999))
	f.Add(int64(999), int64(1000))
	f.Fuzz(func(t *testing.T, a, b int64) {
		ta, tb := Of(time.UnixMilli(a)), Of(time.UnixMilli(b))
		sa, sb := ta.String(), tb.String()
		for _, x := range []struct {
			t Time
			s string
		}{{ta, sa}, {tb, sb}} {
			if x.t == 0 {
				if x.s != "" {
					t.Fatalf("zero Time wrote %q", x.s)
				}
				continue
			}
			if len(x.s) != len(Layout) {
				t.Fatalf("%q is not %d characters", x.s, len(Layout))
			}
			if back, err := Parse(x.s); err != nil || back != x.t {
				t.Fatalf("Parse(%q) = %v, %v; want %v", x.s, back, err, x.t)
			}
		}
		if ta == 0 || tb == 0 {
			return
		}
		if got, want := strings.Compare(sa, sb), ta.Time().Compare(tb.Time()); got != want {
			t.Fatalf("%q vs %q compares %d as text, %d as time", sa, sb, got, want)
		}
		if (ta < tb) != ta.Time().Before(tb.Time()) {
			t.Fatalf("%v < %v disagrees with time order", ta, tb)
		}
	})
}

// FuzzParse: no input panics, and whatever parses writes back as text that
// reads as the same Time.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "2026-11-30T04:05:06.789Z", "2026-11-30T04:05:06Z", "2026-11-30T04:05:06.123456789Z", "2026-11-30T04:05:06+01:00", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			if p != 0 {
				t.Fatalf("Parse(%q) failed but returned %v", s, p)
			}
			return
		}
		if s != "" && p == 0 {
			t.Fatalf("Parse(%q) = zero without an error", s)
		}
		if back, err := Parse(p.String()); err != nil || back != p {
			t.Fatalf("Parse(%q) = %v, which reads back as %v, %v", s, p, back, err)
		}
	})
}

type item struct {
	At       Time `dynamodbav:"at"`
	Optional Time `dynamodbav:"optional,omitempty"`
}

func TestAttributeValue(t *testing.T) {
	at := Of(time.Date(2026, 11, 30, 4, 5, 6, 789_000_000, time.UTC))
	av, err := attributevalue.MarshalMap(item{At: at})
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := av["at"].(*types.AttributeValueMemberS); !ok || s.Value != "2026-11-30T04:05:06.789Z" {
		t.Fatalf("at marshalled as %#v, want the string 2026-11-30T04:05:06.789Z", av["at"])
	}
	if _, ok := av["optional"]; ok {
		t.Fatalf("a zero omitempty time was stored: %#v", av["optional"])
	}
	var back item
	if err := attributevalue.UnmarshalMap(av, &back); err != nil || back != (item{At: at}) {
		t.Fatalf("read back %+v, %v", back, err)
	}
	// As an expression value (a condition's operand) it is the same string.
	if v, err := attributevalue.Marshal(at); err != nil || v.(*types.AttributeValueMemberS).Value != at.String() {
		t.Fatalf("Marshal(at) = %#v, %v", v, err)
	}

	for _, tc := range []struct {
		name string
		av   types.AttributeValue
		want Time
		bad  bool
	}{
		{name: "whole seconds, as RFC3339 wrote", av: &types.AttributeValueMemberS{Value: "2026-11-30T04:05:06Z"}, want: Of(time.Date(2026, 11, 30, 4, 5, 6, 0, time.UTC))},
		{name: "empty string is not set", av: &types.AttributeValueMemberS{Value: ""}, want: 0},
		{name: "NULL is not set", av: &types.AttributeValueMemberNULL{Value: true}, want: 0},
		{name: "malformed", av: &types.AttributeValueMemberS{Value: "30/11/2026"}, bad: true},
		{name: "a number", av: &types.AttributeValueMemberN{Value: "1764475506"}, bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := item{At: 42}
			err := attributevalue.UnmarshalMap(map[string]types.AttributeValue{"at": tc.av}, &got)
			if tc.bad {
				if err == nil {
					t.Fatalf("read %#v as %v, want an error", tc.av, got.At)
				}
				return
			}
			if err != nil || got.At != tc.want {
				t.Fatalf("read %#v as %v, %v; want %v", tc.av, got.At, err, tc.want)
			}
		})
	}
}

func TestJSON(t *testing.T) {
	type resource struct {
		CreatedAt  Time `json:"created_at"`
		LastUsedAt Time `json:"last_used_at"`
		ExpiresAt  Time `json:"expires_at,omitzero"`
	}
	at := Of(time.Date(2026, 11, 30, 4, 5, 6, 789_000_000, time.UTC))
	b, err := json.Marshal(resource{CreatedAt: at})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"created_at":"2026-11-30T04:05:06.789Z","last_used_at":null}`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	var back resource
	if err := json.Unmarshal(b, &back); err != nil || back != (resource{CreatedAt: at}) {
		t.Fatalf("read back %+v, %v", back, err)
	}
	for _, bad := range []string{`{"created_at":"tomorrow"}`, `{"created_at":1764475506}`, `{"created_at":"2026-11-30T05:05:06"}`, `{"created_at":"2026-11-30T05:05:06+01:00"}`} {
		if err := json.Unmarshal([]byte(bad), &back); err == nil {
			t.Errorf("%s read as %+v, want an error", bad, back)
		}
	}
}
