package activity

import (
	"testing"
	"time"
)

// An item leaves the table a retention after the end of its hour, counted
// from the item's own time, never the clock's; a time that is not one is an
// error, not an expiry made up from the clock.
func TestExpiry(t *testing.T) {
	r := &Recorder{Retention: 24 * time.Hour}
	want := time.Date(2026, 11, 26, 11, 0, 0, 0, time.UTC).Unix()
	for _, at := range []string{"2026-11-25T10:59:59.999Z#req-1", "2026-11-25T10:00:00.000Z", "2026-11-25T10#203.0.113.9", "2026-11-25T10"} {
		if got, err := r.expiry(at); err != nil || got != want {
			t.Errorf("expiry(%q) = %d, %v; want %d", at, got, err, want)
		}
	}
	for _, at := range []string{"", "2026-11", "garbage-of-some-length", "2026-11-25X10:00"} {
		if got, err := r.expiry(at); err == nil {
			t.Errorf("expiry(%q) = %d, want an error", at, got)
		}
	}
}
