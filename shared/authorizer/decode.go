package authorizer

import (
	"bytes"
	"errors"
	"fmt"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeEvent is json.Unmarshal(data, ev) for an Event, without reflection
// and in one pass: it keeps the fields Event names and skips (while
// checking) everything else. It accepts and refuses what json.Unmarshal
// does and decodes to the same Event (names matched ignoring case, invalid
// UTF-8 and lone surrogates as U+FFFD, null leaving a field alone); the
// differential fuzz test FuzzDecodeEvent holds it to that.
func decodeEvent(data []byte, ev *Event) error {
	d := decoder{data: data}
	d.ws()
	if d.literal("null") {
		// json.Unmarshal leaves ev as it was.
	} else if err := d.object(func(key []byte) error { return d.event(key, ev) }); err != nil {
		return err
	}
	d.ws()
	if d.i != len(d.data) {
		return d.syntax("after the event")
	}
	return nil
}

// errEventType is a value of the wrong JSON type for its Event field.
var errEventType = errors.New("wrong JSON type")

type decoder struct {
	data  []byte
	i     int
	depth int
}

func (d *decoder) event(key []byte, ev *Event) error {
	switch {
	case bytes.EqualFold(key, []byte("version")):
		return d.str(&ev.Version)
	case bytes.EqualFold(key, []byte("type")):
		return d.str(&ev.Type)
	case bytes.EqualFold(key, []byte("authorizationToken")):
		return d.str(&ev.AuthorizationToken)
	case bytes.EqualFold(key, []byte("methodArn")):
		return d.str(&ev.MethodArn)
	case bytes.EqualFold(key, []byte("resource")):
		return d.str(&ev.Resource)
	case bytes.EqualFold(key, []byte("path")):
		return d.str(&ev.Path)
	case bytes.EqualFold(key, []byte("httpMethod")):
		return d.str(&ev.HTTPMethod)
	case bytes.EqualFold(key, []byte("headers")):
		return objectInto(d, &ev.Headers, d.str)
	case bytes.EqualFold(key, []byte("multiValueHeaders")):
		return objectInto(d, &ev.MultiValueHeaders, d.strings)
	case bytes.EqualFold(key, []byte("pathParameters")):
		return objectInto(d, &ev.PathParameters, d.str)
	case bytes.EqualFold(key, []byte("routeKey")):
		return d.str(&ev.RouteKey)
	case bytes.EqualFold(key, []byte("requestContext")):
		rc := &ev.RequestContext
		return d.structure(func(key []byte) error {
			switch {
			case bytes.EqualFold(key, []byte("requestId")):
				return d.str(&rc.RequestID)
			case bytes.EqualFold(key, []byte("extendedRequestId")):
				return d.str(&rc.ExtendedRequestID)
			case bytes.EqualFold(key, []byte("stage")):
				return d.str(&rc.Stage)
			case bytes.EqualFold(key, []byte("identity")):
				return d.structure(func(key []byte) error {
					if bytes.EqualFold(key, []byte("sourceIp")) {
						return d.str(&rc.Identity.SourceIP)
					}
					return d.skip()
				})
			case bytes.EqualFold(key, []byte("http")):
				return d.structure(func(key []byte) error {
					switch {
					case bytes.EqualFold(key, []byte("method")):
						return d.str(&rc.HTTP.Method)
					case bytes.EqualFold(key, []byte("path")):
						return d.str(&rc.HTTP.Path)
					case bytes.EqualFold(key, []byte("sourceIp")):
						return d.str(&rc.HTTP.SourceIP)
					}
					return d.skip()
				})
			}
			return d.skip()
		})
	}
	return d.skip()
}

func (d *decoder) syntax(where string) error {
	return fmt.Errorf("invalid JSON at offset %d (%s)", d.i, where)
}

func (d *decoder) ws() {
	for d.i < len(d.data) {
		switch d.data[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) peek() byte {
	d.ws()
	if d.i < len(d.data) {
		return d.data[d.i]
	}
	return 0
}

func (d *decoder) literal(lit string) bool {
	if bytes.HasPrefix(d.data[d.i:], []byte(lit)) {
		d.i += len(lit)
		return true
	}
	return false
}

// str decodes a string into *s; null leaves it alone.
func (d *decoder) str(s *string) error {
	switch d.peek() {
	case '"':
		v, err := d.readString()
		*s = v
		return err
	case 'n':
		if d.literal("null") {
			return nil
		}
	}
	if err := d.skip(); err != nil {
		return err
	}
	return errEventType
}

// structure decodes an object into a struct's fields with field; null
// leaves them alone.
func (d *decoder) structure(field func(key []byte) error) error {
	switch d.peek() {
	case '{':
		return d.object(field)
	case 'n':
		if d.literal("null") {
			return nil
		}
	}
	if err := d.skip(); err != nil {
		return err
	}
	return errEventType
}

// objectInto decodes an object into *m, each member's value by value,
// adding to the map there (json.Unmarshal merges into an existing map);
// null sets *m to nil. Anything else is skipped, checked, and is
// errEventType, as json.Unmarshal reports a type mismatch after reading on.
func objectInto[V any](d *decoder, m *map[string]V, value func(*V) error) error {
	switch d.peek() {
	case '{':
		if *m == nil {
			*m = map[string]V{}
		}
		return d.object(func(key []byte) error {
			var v V
			err := value(&v)
			(*m)[string(key)] = v
			return err
		})
	case 'n':
		if d.literal("null") {
			*m = nil
			return nil
		}
	}
	if err := d.skip(); err != nil {
		return err
	}
	return errEventType
}

// strings decodes an array of strings into a new slice; null is nil.
func (d *decoder) strings(vs *[]string) error {
	switch d.peek() {
	case '[':
		*vs = []string{}
		return d.array(func() error {
			var v string
			err := d.str(&v)
			*vs = append(*vs, v)
			return err
		})
	case 'n':
		if d.literal("null") {
			return nil
		}
	}
	if err := d.skip(); err != nil {
		return err
	}
	return errEventType
}

// maxDepth is encoding/json's limit on nesting.
const maxDepth = 10000

// object reads an object, calling member with each unquoted name to read
// the value that follows it.
func (d *decoder) object(member func(key []byte) error) error {
	if d.peek() != '{' {
		if err := d.skip(); err != nil {
			return err
		}
		return errEventType
	}
	if d.depth++; d.depth > maxDepth {
		return d.syntax("nested too deeply")
	}
	defer func() { d.depth-- }()
	d.i++
	if d.peek() == '}' {
		d.i++
		return nil
	}
	for {
		if d.peek() != '"' {
			return d.syntax("object key")
		}
		key, err := d.readStringBytes()
		if err != nil {
			return err
		}
		if d.peek() != ':' {
			return d.syntax("after object key")
		}
		d.i++
		d.ws()
		if err := member(key); err != nil {
			return err
		}
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			return nil
		default:
			return d.syntax("after object value")
		}
	}
}

// array reads an array, calling elem to read each element.
func (d *decoder) array(elem func() error) error {
	if d.depth++; d.depth > maxDepth {
		return d.syntax("nested too deeply")
	}
	defer func() { d.depth-- }()
	d.i++ // '['
	if d.peek() == ']' {
		d.i++
		return nil
	}
	for {
		d.ws()
		if err := elem(); err != nil {
			return err
		}
		switch d.peek() {
		case ',':
			d.i++
		case ']':
			d.i++
			return nil
		default:
			return d.syntax("after array element")
		}
	}
}

// skip reads any value, checking its syntax, and keeps nothing.
func (d *decoder) skip() error {
	switch c := d.peek(); {
	case c == '{':
		return d.object(func([]byte) error { return d.skip() })
	case c == '[':
		return d.array(d.skip)
	case c == '"':
		_, err := d.readStringBytes()
		return err
	case c == '-' || ('0' <= c && c <= '9'):
		return d.number()
	case d.literal("true"), d.literal("false"), d.literal("null"):
		return nil
	}
	return d.syntax("value")
}

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func (d *decoder) number() error {
	digits := func() int {
		n := 0
		for d.i < len(d.data) && '0' <= d.data[d.i] && d.data[d.i] <= '9' {
			d.i++
			n++
		}
		return n
	}
	if d.i < len(d.data) && d.data[d.i] == '-' {
		d.i++
	}
	switch {
	case d.i < len(d.data) && d.data[d.i] == '0':
		d.i++
	case digits() == 0:
		return d.syntax("number")
	}
	if d.i < len(d.data) && d.data[d.i] == '.' {
		d.i++
		if digits() == 0 {
			return d.syntax("number")
		}
	}
	if d.i < len(d.data) && (d.data[d.i] == 'e' || d.data[d.i] == 'E') {
		d.i++
		if d.i < len(d.data) && (d.data[d.i] == '+' || d.data[d.i] == '-') {
			d.i++
		}
		if digits() == 0 {
			return d.syntax("number")
		}
	}
	return nil
}

func (d *decoder) readString() (string, error) {
	b, err := d.readStringBytes()
	return string(b), err
}

// readStringBytes reads a string at d.i (a '"'), unquoted. Without
// escapes or invalid UTF-8 it is a slice of the input, not a copy.
func (d *decoder) readStringBytes() ([]byte, error) {
	d.i++ // '"'
	start := d.i
	for d.i < len(d.data) {
		c := d.data[d.i]
		switch {
		case c == '"':
			s := d.data[start:d.i]
			d.i++
			return s, nil
		case c == '\\' || c < 0x20:
			return d.unquoteSlow(start)
		case c < utf8.RuneSelf:
			d.i++
		default:
			r, size := utf8.DecodeRune(d.data[d.i:])
			if r == utf8.RuneError && size == 1 {
				return d.unquoteSlow(start)
			}
			d.i += size
		}
	}
	return nil, d.syntax("unterminated string")
}

// unquoteSlow finishes a string that has escapes, control characters or
// invalid UTF-8, from start (just after its opening quote), as
// encoding/json does.
func (d *decoder) unquoteSlow(start int) ([]byte, error) {
	out := append([]byte(nil), d.data[start:d.i]...)
	for d.i < len(d.data) {
		c := d.data[d.i]
		switch {
		case c == '"':
			d.i++
			return out, nil
		case c < 0x20:
			return nil, d.syntax("control character in string")
		case c == '\\':
			if d.i+1 >= len(d.data) {
				return nil, d.syntax("unterminated string")
			}
			e := d.data[d.i+1]
			d.i += 2
			switch e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := d.hex4()
				if !ok {
					return nil, d.syntax("\\u escape")
				}
				if utf16.IsSurrogate(r) {
					// A pair when a valid low surrogate follows; else U+FFFD,
					// and what follows is read on its own.
					save := d.i
					if d.i+1 < len(d.data) && d.data[d.i] == '\\' && d.data[d.i+1] == 'u' {
						d.i += 2
						if r2, ok := d.hex4(); ok {
							if dec := utf16.DecodeRune(r, r2); dec != unicode.ReplacementChar {
								out = utf8.AppendRune(out, dec)
								continue
							}
						}
					}
					d.i = save
					r = unicode.ReplacementChar
				}
				out = utf8.AppendRune(out, r)
			default:
				return nil, d.syntax("escape")
			}
		case c < utf8.RuneSelf:
			out = append(out, c)
			d.i++
		default:
			r, size := utf8.DecodeRune(d.data[d.i:])
			if r == utf8.RuneError && size == 1 {
				out = utf8.AppendRune(out, unicode.ReplacementChar)
			} else {
				out = append(out, d.data[d.i:d.i+size]...)
			}
			d.i += size
		}
	}
	return nil, d.syntax("unterminated string")
}

// hex4 reads four hex digits.
func (d *decoder) hex4() (rune, bool) {
	if d.i+4 > len(d.data) {
		return 0, false
	}
	var r rune
	for _, c := range d.data[d.i : d.i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	d.i += 4
	return r, true
}
