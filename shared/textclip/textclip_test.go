package textclip

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClip(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"", 3, ""},
		{"abc", 3, "abc"},
		{"abcd", 3, "abc"},
		{"ab€", 3, "ab"}, // € is 3 bytes: not split
		{"ab€", 5, "ab€"},
		{"€€", 4, "€"},
		{"abc", 0, ""},
	} {
		if got := Clip(c.in, c.n); got != c.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
	long := strings.Repeat("é", 1000)
	for n := range 40 {
		if got := Clip(long, n); !utf8.ValidString(got) || len(got) > n {
			t.Fatalf("Clip(é…, %d) = %q", n, got)
		}
	}
}
