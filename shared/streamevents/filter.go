package streamevents

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Filter is a Lambda event filter pattern (the subset of the EventBridge
// pattern language that event source mappings use): nested objects, lists of
// allowed values, and {"exists": bool}, {"prefix": s}, {"anything-but": [...]}.
type Filter struct{ pattern map[string]any }

// ParseFilter parses one FilterCriteria pattern.
func ParseFilter(pattern string) (Filter, error) {
	var p map[string]any
	if err := json.Unmarshal([]byte(pattern), &p); err != nil {
		return Filter{}, fmt.Errorf("filter pattern: %w", err)
	}
	return Filter{pattern: p}, nil
}

// ParseFilters parses a mapping's FilterCriteria patterns.
func ParseFilters(patterns []string) ([]Filter, error) {
	var out []Filter
	for _, pat := range patterns {
		f, err := ParseFilter(pat)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// MatchAny reports whether the event passes the filters: no filters pass
// everything, as an event source mapping without FilterCriteria does.
func MatchAny(filters []Filter, event map[string]any) bool {
	if len(filters) == 0 {
		return true
	}
	for _, f := range filters {
		if f.Match(event) {
			return true
		}
	}
	return false
}

// Match reports whether the event (as generic JSON) matches the pattern.
func (f Filter) Match(event map[string]any) bool { return matchObject(f.pattern, event) }

func matchObject(pattern, event map[string]any) bool {
	for key, want := range pattern {
		got, present := event[key]
		switch w := want.(type) {
		case map[string]any:
			sub, ok := got.(map[string]any)
			if !present || !ok || !matchObject(w, sub) {
				return false
			}
		case []any:
			if !matchLeaf(w, got, present) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// matchLeaf: one of the alternatives must match the value.
func matchLeaf(alternatives []any, got any, present bool) bool {
	for _, alt := range alternatives {
		if rule, ok := alt.(map[string]any); ok {
			if matchRule(rule, got, present) {
				return true
			}
			continue
		}
		if present && equalValue(alt, got) {
			return true
		}
	}
	return false
}

func matchRule(rule map[string]any, got any, present bool) bool {
	for op, arg := range rule {
		switch op {
		case "exists":
			want, _ := arg.(bool)
			return present == want
		case "prefix":
			s, ok := got.(string)
			p, _ := arg.(string)
			return present && ok && strings.HasPrefix(s, p)
		case "anything-but":
			if !present {
				return false
			}
			list, ok := arg.([]any)
			if !ok {
				list = []any{arg}
			}
			for _, v := range list {
				if equalValue(v, got) {
					return false
				}
			}
			return true
		}
	}
	return false
}

func equalValue(want, got any) bool {
	if list, ok := got.([]any); ok {
		for _, g := range list {
			if equalValue(want, g) {
				return true
			}
		}
		return false
	}
	return fmt.Sprint(want) == fmt.Sprint(got)
}
