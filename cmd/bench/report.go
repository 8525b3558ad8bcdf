package main

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// The section of BENCHMARKS.md that the bench rewrites; the rest of the
// file is written by hand and kept as it is.
const (
	beginMarker = "<!-- bench:begin (written by make bench; edits here are overwritten) -->"
	endMarker   = "<!-- bench:end -->"
)

// splice puts section between the markers of doc, or, when doc has none,
// after its first heading's paragraph block (at the top of the figures).
func splice(doc, section string) (string, error) {
	block := beginMarker + "\n" + strings.TrimSpace(section) + "\n" + endMarker
	b := strings.Index(doc, beginMarker)
	e := strings.Index(doc, endMarker)
	switch {
	case b < 0 && e < 0:
		// Before the first second-level heading, else at the end.
		if i := strings.Index(doc, "\n## "); i >= 0 {
			return doc[:i+1] + block + "\n\n" + doc[i+1:], nil
		}
		return strings.TrimRight(doc, "\n") + "\n\n" + block + "\n", nil
	case b < 0 || e < 0 || e < b:
		return "", errors.New("BENCHMARKS.md: the bench markers are unpaired; restore both or remove both")
	}
	if strings.Count(doc, beginMarker) != 1 || strings.Count(doc, endMarker) != 1 {
		return "", errors.New("BENCHMARKS.md: the bench markers appear more than once")
	}
	return doc[:b] + block + doc[e+len(endMarker):], nil
}

// percentile of sorted-or-not samples, nearest rank.
func percentile(samples []time.Duration, p float64) time.Duration {
	if len(samples) == 0 {
		return 0
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	rank := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(rank, len(s)-1))]
}

func median(samples []time.Duration) time.Duration { return percentile(samples, 50) }

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "**MISS**"
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.3f ms", float64(d.Microseconds())/1000)
}
