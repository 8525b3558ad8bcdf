package authorizer

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Response is the answer in the event's own format: an IAM policy for REST
// APIs (REQUEST and TOKEN events), a simple response for HTTP APIs. A 401 is
// not a Response but the error ErrUnauthorized.
type Response struct {
	HTTP        bool           // an HTTP API simple response; otherwise a REST policy
	Allow       bool           // Allow (isAuthorized: true); otherwise Deny (false)
	PrincipalID string         // REST only
	MethodArn   string         // REST only: the policy's resource
	Context     map[string]any // for the backend; left out when empty
}

// AppendJSON appends r as API Gateway reads it, the JSON that aws-lambda-go
// would write for events.APIGatewayCustomAuthorizerResponse or
// events.APIGatewayV2CustomAuthorizerSimpleResponse (keys in the same order,
// the context's sorted, HTML left unescaped), without reflection.
func (r Response) AppendJSON(b []byte) ([]byte, error) {
	if r.HTTP {
		b = append(b, `{"isAuthorized":`...)
		b = strconv.AppendBool(b, r.Allow)
	} else {
		effect := "Deny"
		if r.Allow {
			effect = "Allow"
		}
		b = append(b, `{"principalId":`...)
		b = appendString(b, r.PrincipalID)
		b = append(b, `,"policyDocument":{"Version":"2012-10-17","Statement":[{"Action":["execute-api:Invoke"],"Effect":"`...)
		b = append(b, effect...)
		b = append(b, `","Resource":[`...)
		b = appendString(b, r.MethodArn)
		b = append(b, `]}]}`...)
	}
	if len(r.Context) > 0 {
		b = append(b, `,"context":{`...)
		var buf [16]string // principal.Encode writes at most 6 fields
		names := buf[:0]
		for name := range r.Context {
			names = append(names, name)
		}
		slices.Sort(names)
		for i, name := range names {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, name)
			b = append(b, ':')
			var err error
			if b, err = appendValue(b, r.Context[name]); err != nil {
				return nil, fmt.Errorf("authorizer context %s: %w", name, err)
			}
		}
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

// MarshalJSON is AppendJSON for encoding/json.
func (r Response) MarshalJSON() ([]byte, error) { return r.AppendJSON(nil) }

// appendValue writes one context value. API Gateway takes only strings,
// numbers and booleans there (principal.Encode writes strings); anything
// else is refused here, as API Gateway would refuse the answer.
func appendValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendString(b, v), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case float64:
		raw, err := json.Marshal(v) // encoding/json's spelling of a number; refuses NaN and ±Inf
		if err != nil {
			return nil, err
		}
		return append(b, raw...), nil
	}
	return nil, fmt.Errorf("authorizer context value of type %T: API Gateway takes strings, numbers and booleans only", v)
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string as encoding/json does with HTML
// escaping off (aws-lambda-go's setting): quotes, backslashes and control
// characters escaped, U+2028 and U+2029 escaped for JavaScript readers,
// invalid UTF-8 replaced by U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
