package localiam

import (
	"strings"
)

// token is one piece of a DynamoDB expression.
type token struct {
	kind byte   // 'n' attribute name (resolved), 'v' value placeholder, 'o' anything else
	text string // the resolved name, the placeholder, or the operator
	top  bool   // for names: the first element of a document path
}

var keywords = map[string]bool{
	"SET": true, "REMOVE": true, "ADD": true, "DELETE": true,
	"AND": true, "OR": true, "NOT": true, "BETWEEN": true, "IN": true,
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// tokens splits an update, condition, key condition, filter or projection
// expression, resolving #placeholders through names. Function names
// (if_not_exists, attribute_exists, size, …) and keywords are operators.
func tokens(expr string, names map[string]string) []token {
	var out []token
	afterDot := false
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
			continue
		case c == '#' || c == ':' || isIdentByte(c):
			j := i + 1
			for j < len(expr) && isIdentByte(expr[j]) {
				j++
			}
			word := expr[i:j]
			i = j
			switch {
			case c == ':':
				out = append(out, token{kind: 'v', text: word})
			case c == '#':
				name, ok := names[word]
				if !ok {
					name = word // DynamoDB refuses the request; keep the text
				}
				out = append(out, token{kind: 'n', text: name, top: !afterDot})
			default:
				k := j
				for k < len(expr) && expr[k] == ' ' {
					k++
				}
				if !afterDot && (keywords[strings.ToUpper(word)] || k < len(expr) && expr[k] == '(') {
					out = append(out, token{kind: 'o', text: word})
				} else {
					out = append(out, token{kind: 'n', text: word, top: !afterDot})
				}
			}
			afterDot = false
			continue
		case c == '.':
			afterDot = true
			i++
			continue
		case c == '[':
			// A list index: [n] belongs to the path before it.
			for i < len(expr) && expr[i] != ']' {
				i++
			}
			i++
			continue
		case c == '<' || c == '>' || c == '=':
			j := i + 1
			if j < len(expr) && (expr[j] == '=' || expr[j] == '>') {
				j++
			}
			out = append(out, token{kind: 'o', text: expr[i:j]})
			i = j
		default:
			out = append(out, token{kind: 'o', text: string(c)})
			i++
		}
		afterDot = false
	}
	return out
}

// topNames adds to set the top-level attribute names an expression names.
func topNames(set map[string]bool, expr *string, names map[string]string) {
	if expr == nil {
		return
	}
	for _, t := range tokens(*expr, names) {
		if t.kind == 'n' && t.top {
			set[t.text] = true
		}
	}
}

// equalsValue returns the value placeholder compared for equality with the
// top-level attribute attr (attr = :v or :v = attr), as a key condition
// names a partition key.
func equalsValue(expr *string, names map[string]string, attr string) (string, bool) {
	if expr == nil {
		return "", false
	}
	ts := tokens(*expr, names)
	for i := 0; i+2 < len(ts); i++ {
		a, op, b := ts[i], ts[i+1], ts[i+2]
		if op.kind != 'o' || op.text != "=" {
			continue
		}
		if a.kind == 'n' && a.top && a.text == attr && b.kind == 'v' {
			return b.text, true
		}
		if b.kind == 'n' && b.top && b.text == attr && a.kind == 'v' {
			return a.text, true
		}
	}
	return "", false
}
