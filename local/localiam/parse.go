package localiam

import (
	"fmt"
	"sort"
	"strings"
)

// resolver turns a policy value (a string or an intrinsic function) into
// the string AWS would see.
type resolver func(v any) (string, error)

// parseStatements reads a policy document's Statement list as the template
// (or a managed policy) writes it. Anything this package cannot evaluate is
// an error, never ignored: an ignored element could allow what AWS denies.
func parseStatements(raw any, resolve resolver) ([]Statement, error) {
	var list []any
	switch v := raw.(type) {
	case []any:
		list = v
	case map[string]any:
		list = []any{v}
	default:
		return nil, fmt.Errorf("Statement must be a list of statements, not %T", raw)
	}
	out := make([]Statement, 0, len(list))
	for i, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("statement %d is not a map", i)
		}
		s, err := parseStatement(m, resolve)
		if err != nil {
			return nil, fmt.Errorf("statement %d: %w", i, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func parseStatement(m map[string]any, resolve resolver) (Statement, error) {
	var s Statement
	var err error
	for k, v := range m {
		switch k {
		case "Sid":
			s.Sid, _ = v.(string)
		case "Effect":
			e, _ := v.(string)
			if e != string(Allow) && e != string(Deny) {
				return s, fmt.Errorf("Effect %v: want Allow or Deny", v)
			}
			s.Effect = Effect(e)
		case "Action":
			s.Actions, err = stringList(v, nil)
		case "NotAction":
			s.NotActions, err = stringList(v, nil)
		case "Resource":
			s.Resources, err = stringList(v, resolve)
		case "NotResource":
			s.NotResources, err = stringList(v, resolve)
		case "Condition":
			s.Conditions, err = parseConditions(v)
		default:
			// Principal has no place in an identity-based policy; anything
			// else is unknown to this evaluator.
			return s, fmt.Errorf("element %s is not supported by localiam", k)
		}
		if err != nil {
			return s, fmt.Errorf("%s: %w", k, err)
		}
	}
	switch {
	case s.Effect == "":
		return s, fmt.Errorf("no Effect")
	case (s.Actions == nil) == (s.NotActions == nil):
		return s, fmt.Errorf("needs exactly one of Action and NotAction")
	case (s.Resources == nil) == (s.NotResources == nil):
		return s, fmt.Errorf("needs exactly one of Resource and NotResource")
	}
	return s, nil
}

// stringList reads a string or a list of strings; with resolve, each item
// may be an intrinsic function.
func stringList(v any, resolve resolver) ([]string, error) {
	items, ok := v.([]any)
	if !ok {
		items = []any{v}
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		if s, ok := it.(string); ok {
			out = append(out, s)
			continue
		}
		if resolve == nil {
			return nil, fmt.Errorf("%v is not a string", it)
		}
		s, err := resolve(it)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func parseConditions(v any) ([]Condition, error) {
	ops, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("must be a map of operators")
	}
	var out []Condition
	// Sorted, so that errors and evaluation order are stable.
	opNames := make([]string, 0, len(ops))
	for op := range ops {
		opNames = append(opNames, op)
	}
	sort.Strings(opNames)
	for _, op := range opNames {
		keys, ok := ops[op].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: must be a map of condition keys", op)
		}
		keyNames := make([]string, 0, len(keys))
		for k := range keys {
			keyNames = append(keyNames, k)
		}
		sort.Strings(keyNames)
		for _, k := range keyNames {
			vals, err := conditionValues(keys[k])
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", op, k, err)
			}
			c, err := NewCondition(op, k, vals)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
	}
	return out, nil
}

func conditionValues(v any) ([]string, error) {
	items, ok := v.([]any)
	if !ok {
		items = []any{v}
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		switch x := it.(type) {
		case string:
			out = append(out, x)
		case bool, float64, int:
			out = append(out, strings.ToLower(fmt.Sprint(x)))
		default:
			return nil, fmt.Errorf("value %v: localiam takes literal condition values only", it)
		}
	}
	return out, nil
}
