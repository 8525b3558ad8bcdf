// Package localiam holds the local stack's DynamoDB calls to the IAM roles
// template.yaml gives the functions, as AWS evaluates them: a function's
// client gets a middleware that turns each call into the IAM checks DynamoDB
// makes (one per item inside transactions and batches, with the condition
// keys of the request), evaluates them against the role's statements, and
// answers a call the role does not allow with DynamoDB's
// AccessDeniedException. A Recorder keeps every check, for make validate.
//
// It is part of the emulator: functions/* never import it.
package localiam

import (
	"fmt"
	"slices"
	"strings"
)

// Effect is a statement's Effect.
type Effect string

// The two effects.
const (
	Allow Effect = "Allow"
	Deny  Effect = "Deny"
)

// Statement is one statement of an identity-based policy. Either Actions or
// NotActions is set, and either Resources or NotResources.
type Statement struct {
	Sid          string
	Effect       Effect
	Actions      []string
	NotActions   []string
	Resources    []string
	NotResources []string
	Conditions   []Condition
}

// Policy is the statements of every policy of a role, evaluated together.
type Policy struct {
	Statements []Statement
}

// Request is one authorization check: an action on a resource, with the
// condition keys the request carries (absent keys are not in Context).
type Request struct {
	Action   string
	Resource string
	Context  map[string][]string
}

// Decision is the outcome of evaluating a request.
type Decision int

// Decisions, as IAM names them.
const (
	ImplicitDeny Decision = iota // no statement allows it
	Allowed
	ExplicitDeny // a Deny statement matches, whatever allows it
)

func (d Decision) String() string {
	switch d {
	case Allowed:
		return "allowed"
	case ExplicitDeny:
		return "explicit deny"
	}
	return "implicit deny"
}

// Evaluate decides r as IAM does for identity-based policies: an explicit
// Deny wins, otherwise an Allow allows, otherwise the request is denied.
func (p Policy) Evaluate(r Request) Decision {
	allowed := false
	for _, s := range p.Statements {
		if !s.matches(r) {
			continue
		}
		if s.Effect == Deny {
			return ExplicitDeny
		}
		allowed = true
	}
	if allowed {
		return Allowed
	}
	return ImplicitDeny
}

func (s Statement) matches(r Request) bool {
	if s.Actions != nil && !anyMatch(s.Actions, r.Action, true) {
		return false
	}
	if s.NotActions != nil && anyMatch(s.NotActions, r.Action, true) {
		return false
	}
	if s.Resources != nil && !anyMatch(s.Resources, r.Resource, false) {
		return false
	}
	if s.NotResources != nil && anyMatch(s.NotResources, r.Resource, false) {
		return false
	}
	for _, c := range s.Conditions {
		if !c.holds(r.Context) {
			return false
		}
	}
	return true
}

func anyMatch(patterns []string, s string, foldCase bool) bool {
	for _, p := range patterns {
		if foldCase {
			if Match(strings.ToLower(p), strings.ToLower(s)) {
				return true
			}
		} else if Match(p, s) {
			return true
		}
	}
	return false
}

// Match reports whether s matches an IAM pattern: * is any run of
// characters (none included), ? any one character.
func Match(pattern, s string) bool {
	// Iterative wildcard matching with backtracking to the last *.
	p, i, star, mark := 0, 0, -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// Condition is one key of one operator of a statement's Condition block:
// {"ForAllValues:StringEquals": {"dynamodb:Attributes": [...]}}. The
// statement matches only when all its conditions hold; a condition holds
// when any of its values matches.
type Condition struct {
	Operator string // as written, e.g. ForAllValues:StringEquals
	Key      string
	Values   []string

	set      string // "", "ForAllValues" or "ForAnyValue"
	base     string // StringEquals, StringNotEquals, StringLike or StringNotLike
	ifExists bool
}

// conditionKeys are the condition keys this package fills in, and whether
// each is multivalued (a set, to be used with ForAllValues/ForAnyValue).
var conditionKeys = map[string]bool{
	"dynamodb:Attributes":         true,
	"dynamodb:LeadingKeys":        true,
	"dynamodb:ReturnValues":       false,
	"dynamodb:Select":             false,
	"dynamodb:EnclosingOperation": false,
}

var baseOperators = []string{"StringEquals", "StringNotEquals", "StringLike", "StringNotLike"}

// NewCondition checks an operator and key this package can evaluate; any
// other is refused, so that nothing is allowed by a condition it ignores.
func NewCondition(operator, key string, values []string) (Condition, error) {
	c := Condition{Operator: operator, Key: key, Values: values}
	op := operator
	if set, rest, ok := strings.Cut(op, ":"); ok {
		if set != "ForAllValues" && set != "ForAnyValue" {
			return c, fmt.Errorf("condition operator %s: unknown set operator %s", operator, set)
		}
		c.set, op = set, rest
	}
	if base, ok := strings.CutSuffix(op, "IfExists"); ok {
		c.ifExists, op = true, base
	}
	if !slices.Contains(baseOperators, op) {
		return c, fmt.Errorf("condition operator %s is not implemented by localiam (it evaluates %s, with ForAllValues:/ForAnyValue: and IfExists)",
			operator, strings.Join(baseOperators, ", "))
	}
	c.base = op
	multi, known := conditionKeys[key]
	if !known {
		keys := make([]string, 0, len(conditionKeys))
		for k := range conditionKeys {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return c, fmt.Errorf("condition key %s is not implemented by localiam (it fills in %s)", key, strings.Join(keys, ", "))
	}
	if multi && c.set == "" {
		return c, fmt.Errorf("condition key %s is multivalued: use ForAllValues:%s or ForAnyValue:%s", key, operator, operator)
	}
	if len(values) == 0 {
		return c, fmt.Errorf("condition %s %s has no values", operator, key)
	}
	return c, nil
}

func (c Condition) holds(ctx map[string][]string) bool {
	vals, present := ctx[c.Key]
	switch c.set {
	case "ForAllValues":
		// True for an absent or empty key: every one of no values matches.
		for _, v := range vals {
			if !c.matchOne(v) {
				return false
			}
		}
		return true
	case "ForAnyValue":
		for _, v := range vals {
			if c.matchOne(v) {
				return true
			}
		}
		return false
	}
	if !present || len(vals) == 0 {
		// An absent key matches only IfExists and the negated operators.
		return c.ifExists || c.negated()
	}
	for _, v := range vals {
		if !c.matchOne(v) {
			return false
		}
	}
	return true
}

func (c Condition) negated() bool { return strings.Contains(c.base, "Not") }

// matchOne applies the base operator to one request value: for the
// positive operators, any condition value matches; for the negated ones,
// none does.
func (c Condition) matchOne(v string) bool {
	like := strings.HasSuffix(c.base, "Like")
	hit := false
	for _, want := range c.Values {
		if like && Match(want, v) || !like && want == v {
			hit = true
			break
		}
	}
	if c.negated() {
		return !hit
	}
	return hit
}
