package locallogs

import (
	"fmt"
	"testing"
)

func TestEventIDIsTimeAndSequenceZeroPadded(t *testing.T) {
	for _, c := range []struct {
		ms  int64
		seq uint64
	}{{0, 0}, {1732950000123, 1}, {1732950000123, 18446744073709551615}, {99999999999999999, 42}} {
		if got, want := eventID(c.ms, c.seq), fmt.Sprintf("%020d%036d", c.ms, c.seq); got != want {
			t.Errorf("eventID(%d, %d) = %s, want %s", c.ms, c.seq, got, want)
		}
	}
}
