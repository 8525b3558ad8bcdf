package locallogs

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Pattern is a CloudWatch Logs filter pattern, of the part of the syntax the
// local stack implements: "" (every event), or a JSON pattern of
// comparisons `$.field = "value"` and `$.field != "value"` (values quoted or
// bare, * matching any characters), joined with && or ||, grouped with
// parentheses. Mixing && and || needs parentheses, so that no reading of
// the pattern depends on precedence. Anything else is refused when loading,
// not guessed at.
type Pattern struct {
	src  string
	expr node // nil: every event
}

// ParsePattern reads a filter pattern.
func ParsePattern(src string) (*Pattern, error) {
	s := strings.TrimSpace(src)
	if s == "" {
		return &Pattern{}, nil
	}
	if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") {
		return nil, fmt.Errorf("filter pattern %q: the local stack implements JSON patterns ({ … }) only", src)
	}
	p := &parser{src: src, in: s[1 : len(s)-1]}
	e, err := p.expr()
	if err == nil && strings.TrimSpace(p.in) != "" {
		err = fmt.Errorf("unexpected %q", p.in)
	}
	if err != nil {
		return nil, fmt.Errorf("filter pattern %q: %w", src, err)
	}
	return &Pattern{src: src, expr: e}, nil
}

func (p *Pattern) String() string { return p.src }

// Match reports whether a log event's message matches. A JSON pattern
// matches JSON objects only.
func (p *Pattern) Match(message string) bool {
	if p.expr == nil {
		return true
	}
	var v map[string]any
	if json.Unmarshal([]byte(message), &v) != nil {
		return false
	}
	return p.expr.match(v)
}

type node interface{ match(map[string]any) bool }

type all []node
type anyOf []node

func (a all) match(v map[string]any) bool {
	for _, n := range a {
		if !n.match(v) {
			return false
		}
	}
	return true
}

func (a anyOf) match(v map[string]any) bool {
	for _, n := range a {
		if n.match(v) {
			return true
		}
	}
	return false
}

type comparison struct {
	path  []string
	equal bool
	value string // with * wildcards
}

func (c comparison) match(v map[string]any) bool {
	var cur any = v
	for _, name := range c.path {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[name]; !ok {
			return false
		}
	}
	var s string
	switch x := cur.(type) {
	case string:
		s = x
	case float64:
		s = strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		s = strconv.FormatBool(x)
	default:
		return false
	}
	return glob(c.value, s) == c.equal
}

// glob matches s against a pattern where * stands for any characters.
func glob(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

type parser struct {
	src string
	in  string
}

func (p *parser) skip() { p.in = strings.TrimLeft(p.in, " \t\n") }

func (p *parser) expr() (node, error) {
	first, err := p.unary()
	if err != nil {
		return nil, err
	}
	nodes, op := []node{first}, ""
	for {
		p.skip()
		var next string
		switch {
		case strings.HasPrefix(p.in, "&&"):
			next = "&&"
		case strings.HasPrefix(p.in, "||"):
			next = "||"
		default:
			if op == "||" {
				return anyOf(nodes), nil
			}
			if len(nodes) == 1 {
				return first, nil
			}
			return all(nodes), nil
		}
		if op != "" && op != next {
			return nil, fmt.Errorf("&& and || mixed without parentheses")
		}
		op = next
		p.in = p.in[2:]
		n, err := p.unary()
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
}

func (p *parser) unary() (node, error) {
	p.skip()
	if strings.HasPrefix(p.in, "(") {
		p.in = p.in[1:]
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		p.skip()
		if !strings.HasPrefix(p.in, ")") {
			return nil, fmt.Errorf("missing )")
		}
		p.in = p.in[1:]
		return e, nil
	}
	if !strings.HasPrefix(p.in, "$.") {
		return nil, fmt.Errorf("expected $.field at %q", p.in)
	}
	end := strings.IndexAny(p.in, " \t\n=!<>")
	if end < 0 {
		return nil, fmt.Errorf("expected a comparison after %q", p.in)
	}
	c := comparison{path: strings.Split(p.in[2:end], ".")}
	for _, name := range c.path {
		if name == "" || strings.ContainsAny(name, "[]") {
			return nil, fmt.Errorf("field %q: the local stack implements plain field names only", p.in[:end])
		}
	}
	p.in = p.in[end:]
	p.skip()
	switch {
	case strings.HasPrefix(p.in, "!="):
		p.in = p.in[2:]
	case strings.HasPrefix(p.in, "="):
		c.equal = true
		p.in = p.in[1:]
	default:
		return nil, fmt.Errorf("the local stack implements = and != only, not %q", p.in)
	}
	p.skip()
	if strings.HasPrefix(p.in, `"`) {
		end := strings.Index(p.in[1:], `"`)
		if end < 0 {
			return nil, fmt.Errorf("unterminated string")
		}
		c.value = p.in[1 : end+1]
		p.in = p.in[end+2:]
		return c, nil
	}
	end = strings.IndexAny(p.in, " \t\n)")
	if end < 0 {
		end = len(p.in)
	}
	c.value = p.in[:end]
	if c.value == "" {
		return nil, fmt.Errorf("missing value")
	}
	p.in = p.in[end:]
	return c, nil
}
