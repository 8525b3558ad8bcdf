package main

import (
	"strings"
	"testing"
	"time"
)

func TestSplice(t *testing.T) {
	hand := "# Benchmarks\n\nIntro.\n\n## Audit delay\n\nBy hand.\n"
	first, err := splice(hand, "## Figures\n\nold")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(first, "# Benchmarks\n\nIntro.\n\n"+beginMarker+"\n## Figures\n\nold\n"+endMarker+"\n\n## Audit delay\n\nBy hand.\n") {
		t.Fatalf("first write:\n%s", first)
	}
	second, err := splice(first, "## Figures\n\nnew\n")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(second, "old") || !strings.Contains(second, "new\n"+endMarker) || !strings.HasSuffix(second, "## Audit delay\n\nBy hand.\n") {
		t.Fatalf("rewrite lost or kept the wrong text:\n%s", second)
	}
	if again, _ := splice(second, "## Figures\n\nnew"); again != second {
		t.Fatalf("rewriting the same figures changed the file:\n%s", again)
	}
	for name, doc := range map[string]string{
		"begin only": "# B\n" + beginMarker + "\n",
		"end first":  "# B\n" + endMarker + "\n" + beginMarker + "\n",
		"twice":      beginMarker + endMarker + beginMarker + endMarker,
	} {
		if _, err := splice(doc, "x"); err == nil {
			t.Errorf("%s: spliced a document with broken markers", name)
		}
	}
}

func TestPercentile(t *testing.T) {
	var s []time.Duration
	for i := 100; i >= 1; i-- {
		s = append(s, time.Duration(i))
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 50}, {99, 99}, {100, 100}, {1, 1}, {0, 1}} {
		if got := percentile(s, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if s[0] != 100 {
		t.Error("percentile sorted its argument in place")
	}
}
