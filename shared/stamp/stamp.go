// Package stamp is the time of stored items: a UTC instant to the
// millisecond, written as fixed-width RFC 3339 text so that DynamoDB's
// string comparisons (sort keys, conditions) put times in time order.
package stamp

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Layout is how a Time is written: RFC 3339 in UTC with exactly three
// fractional digits. Every value has the same width, so text order is time
// order (for years 0001 to 9999, the range a Time holds).
const Layout = "2006-01-02T15:04:05.000Z"

// Time is an instant in UTC, to the millisecond: milliseconds since
// 0001-01-01T00:00:00Z, the zero of time.Time. Its zero value means "not set",
// which storage omits (omitempty) and JSON shows as null; ordinary
// comparison (<, ==) is time order.
type Time int64

// unixYear1 is time.Time{}.Unix(): the seconds from 0001-01-01 to 1970-01-01.
const unixYear1 = -62135596800

// Max is the latest Time: 9999-12-31T23:59:59.999Z, the last instant whose
// Layout text has four year digits.
const Max Time = (253402300799-unixYear1)*1000 + 999

// Of is t in UTC, truncated to the millisecond (as Layout writes it). The
// zero time.Time, and any time before year 1, is the zero Time; a time past
// Max is Max.
func Of(t time.Time) Time {
	if t.IsZero() {
		return 0
	}
	sec := t.Unix()
	if sec < unixYear1 {
		return 0
	}
	if sec > int64(Max)/1000+unixYear1 {
		return Max
	}
	return Time((sec-unixYear1)*1000 + int64(t.Nanosecond()/int(time.Millisecond)))
}

// Format is t in UTC in Layout, whatever t is: a bound to compare with
// stored text, such as a query's since or until. Unlike Of(t).String(), the
// zero time.Time is 0001-01-01T00:00:00.000Z, not "".
func Format(t time.Time) string { return t.UTC().Format(Layout) }

// Time is t as a time.Time in UTC; the zero Time is the zero time.Time.
func (t Time) Time() time.Time {
	if t == 0 {
		return time.Time{}
	}
	ms := int64(t)
	return time.Unix(ms/1000+unixYear1, ms%1000*int64(time.Millisecond)).UTC()
}

// IsZero reports whether t is not set.
func (t Time) IsZero() bool { return t == 0 }

// Add is t+d, to the millisecond, held within year 1 to Max. A time not set
// stays not set.
func (t Time) Add(d time.Duration) Time {
	if t == 0 {
		return 0
	}
	return Of(t.Time().Add(d))
}

// String is t in Layout, or "" when t is not set.
func (t Time) String() string {
	if t == 0 {
		return ""
	}
	var b [len(Layout)]byte
	return string(t.append(b[:0]))
}

// append adds t in Layout to b, digit by digit: time.Format's general
// layout interpreter costs several times more, on every item written or
// shown.
func (t Time) append(b []byte) []byte {
	at := t.Time()
	year, month, day := at.Date()
	hour, minute, second := at.Clock()
	var text [len(Layout)]byte
	copy(text[:], Layout) // its separators: - - T : : . Z
	put := func(from, n, v int) {
		for i := from + n - 1; i >= from; i-- {
			text[i] = byte('0' + v%10)
			v /= 10
		}
	}
	put(0, 4, year)
	put(5, 2, int(month))
	put(8, 2, day)
	put(11, 2, hour)
	put(14, 2, minute)
	put(17, 2, second)
	put(20, 3, int(int64(t)%1000))
	return append(b, text[:]...)
}

// Parse reads a stored time. It takes Layout and the other spellings whose
// text still sorts with it, as a hand edit in the console might write them:
// "Z" with zero to nine fractional digits (Go's time.RFC3339 and
// RFC3339Nano; finer than a millisecond is truncated), the zero offset
// spelled out (+00:00), and a bare date (midnight UTC). The next write
// stores Layout. "" is the zero Time: not set. Anything else is an error,
// never the zero Time; other offsets in particular, whose text DynamoDB's
// conditions would compare as another instant than Go reads.
func Parse(s string) (Time, error) {
	if s == "" {
		return 0, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		var dateErr error
		if t, dateErr = time.Parse(time.DateOnly, s); dateErr != nil {
			return 0, fmt.Errorf("stored time %q: %w", s, err)
		}
	}
	if _, offset := t.Zone(); offset != 0 {
		return 0, fmt.Errorf("stored time %q: not in UTC (Z or +00:00), so its text would not sort with the others", s)
	}
	if Of(t) == 0 {
		return 0, fmt.Errorf("stored time %q: not after 0001-01-01T00:00:00Z", s)
	}
	return Of(t), nil
}

// MarshalDynamoDBAttributeValue writes t as a string in Layout; the zero
// Time as NULL (a field tagged omitempty is left out before this runs).
func (t Time) MarshalDynamoDBAttributeValue() (types.AttributeValue, error) {
	if t == 0 {
		return &types.AttributeValueMemberNULL{Value: true}, nil
	}
	return &types.AttributeValueMemberS{Value: t.String()}, nil
}

// UnmarshalDynamoDBAttributeValue reads a string written by Parse's rules;
// NULL is the zero Time. A malformed time is an error.
func (t *Time) UnmarshalDynamoDBAttributeValue(av types.AttributeValue) error {
	switch v := av.(type) {
	case *types.AttributeValueMemberNULL:
		*t = 0
		return nil
	case *types.AttributeValueMemberS:
		p, err := Parse(v.Value)
		if err != nil {
			return err
		}
		*t = p
		return nil
	}
	return fmt.Errorf("stored time: want a string, got %T", av)
}

// MarshalJSON writes t as a JSON string in Layout, or null when not set:
// how the API shows times.
func (t Time) MarshalJSON() ([]byte, error) {
	if t == 0 {
		return []byte("null"), nil
	}
	b := make([]byte, 0, len(Layout)+2)
	b = append(b, '"')
	return append(t.append(b), '"'), nil // Layout's text needs no escaping
}

// UnmarshalJSON reads null or a string by Parse's rules.
func (t *Time) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*t = 0
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("time: %w", err)
	}
	p, err := Parse(s)
	if err != nil {
		return err
	}
	*t = p
	return nil
}
