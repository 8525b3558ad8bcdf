package main

import (
	"strings"
	"testing"
)

// KEY_ACTIVITY is on unless it says off; a value it does not know stops
// make run with the value named, rather than being guessed at.
func TestKeyActivitySetting(t *testing.T) {
	for v, off := range map[string]bool{"": false, "on": false, "off": true} {
		got, err := keyActivityOff(func(string) string { return v })
		if err != nil || got != off {
			t.Errorf("KEY_ACTIVITY=%q: off %v, %v; want off %v", v, got, err, off)
		}
	}
	for _, v := range []string{"OFF", "false", "0", " off"} {
		if _, err := keyActivityOff(func(string) string { return v }); err == nil || !strings.Contains(err.Error(), `"`+v+`"`) {
			t.Errorf("KEY_ACTIVITY=%q: %v, want an error naming the value", v, err)
		}
	}
}
