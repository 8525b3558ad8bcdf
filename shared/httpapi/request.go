package httpapi

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// MaxBodyBytes bounds every admin request body.
const MaxBodyBytes = 16 << 10

// Header returns a request header, whatever its case.
func Header(req events.APIGatewayProxyRequest, name string) string {
	v, _ := LookupHeader(req, name)
	return v
}

// LookupHeader returns a request header, whatever its case, and whether the
// request has it at all (an empty value counts).
func LookupHeader(req events.APIGatewayProxyRequest, name string) (string, bool) {
	if v, ok := req.Headers[name]; ok {
		return v, true
	}
	for k, v := range req.Headers {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	for k, vs := range req.MultiValueHeaders {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return vs[0], true
		}
	}
	return "", false
}

// Body returns the raw request body, decoding base64 if API Gateway encoded it.
func Body(req events.APIGatewayProxyRequest) ([]byte, error) {
	if !req.IsBase64Encoded {
		return []byte(req.Body), nil
	}
	b, err := base64.StdEncoding.DecodeString(req.Body)
	if err != nil {
		return nil, Invalid("request body is not valid base64")
	}
	return b, nil
}

// strict is how request bodies are read: member names exactly as the Go
// type's json tags spell them, each at most once, none the type lacks, and
// strings of valid UTF-8. Case-insensitive matching with the last duplicate
// winning let {"scopes":[…],"SCOPES":["*"]} make a full-access key.
var strict = json.JoinOptions(
	json.RejectUnknownMembers(true),
	json.MatchCaseInsensitiveNames(false),
	jsontext.AllowDuplicateNames(false),
	jsontext.AllowInvalidUTF8(false),
)

// DecodeJSON decodes the request body into dst strictly: JSON content type,
// at most MaxBodyBytes, one object, field names exact and each given once,
// no unknown fields, no trailing data. An empty body is allowed only when
// allowEmpty is set, and leaves dst as is. It is the one place request
// bodies are decoded.
func DecodeJSON(req events.APIGatewayProxyRequest, dst any, allowEmpty bool) error {
	body, err := Body(req)
	if err != nil {
		return err
	}
	if len(body) > MaxBodyBytes {
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodePayloadTooLarge,
			Message: fmt.Sprintf("request body is %d bytes; the limit is %d", len(body), MaxBodyBytes)}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if allowEmpty {
			return nil
		}
		return Invalid("request body is empty; send a JSON object")
	}
	if ct := Header(req, "Content-Type"); ct != "" || !allowEmpty {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return &Error{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedMedia,
				Message: "Content-Type must be application/json"}
		}
	}
	if !utf8.Valid(body) {
		return Invalid("request body is not valid UTF-8")
	}
	dec := jsontext.NewDecoder(bytes.NewReader(body), strict)
	if k := dec.PeekKind(); k != '{' && k != 0 { // 0: not JSON; UnmarshalDecode says why
		return Invalid("request body must be a JSON object, not " + kindName(k, nil))
	}
	if err := json.UnmarshalDecode(dec, dst, strict); err != nil {
		return jsonError(err, dst)
	}
	if _, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
		return Invalid("request body has data after the JSON object")
	}
	return nil
}

// jsonError says what is wrong with a body in words a person can act on,
// naming the field where there is one.
func jsonError(err error, dst any) error {
	var syntax *jsontext.SyntacticError
	var semantic *json.SemanticError
	switch {
	case errors.As(err, &syntax):
		field, where := fieldOf(syntax.JSONPointer)
		var details []Detail
		if field != "" {
			details = []Detail{{Field: field, Issue: "invalid_json"}}
		}
		switch msg := syntax.Err.Error(); {
		case errors.Is(syntax.Err, jsontext.ErrDuplicateName):
			return Invalid(fmt.Sprintf("field %s is given more than once; send each field once", where),
				Detail{Field: field, Issue: "duplicate_field"})
		case errors.Is(syntax.Err, io.ErrUnexpectedEOF):
			return Invalid("request body is truncated JSON")
		case strings.Contains(msg, "surrogate") || strings.Contains(msg, "UTF-8"):
			// An escape such as \ud800 alone is no character: v1 turned it into U+FFFD.
			if field == "" {
				return Invalid("request body has a \\u escape that is not a Unicode character (a lone surrogate)")
			}
			return Invalid(fmt.Sprintf("field %s has a \\u escape that is not a Unicode character (a lone surrogate)", where),
				Detail{Field: field, Issue: "invalid_utf8"})
		case where != "":
			return Invalid(fmt.Sprintf("request body is not valid JSON (at byte %d, in %s): %s", syntax.ByteOffset, where, msg), details...)
		default:
			return Invalid(fmt.Sprintf("request body is not valid JSON (at byte %d): %s", syntax.ByteOffset, msg))
		}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return Invalid("request body is truncated JSON")
	case errors.As(err, &semantic):
		if errors.Is(semantic.Err, json.ErrUnknownName) {
			name := semantic.JSONPointer.LastToken()
			msg := fmt.Sprintf("unknown field %q", clip(name))
			if _, in := fieldOf(semantic.JSONPointer.Parent()); in != "" {
				msg += " in " + in
			}
			if known := tagNamed(semantic.GoType, name); known != "" {
				msg += fmt.Sprintf("; field names are case-sensitive: did you mean %q?", known)
			}
			return Invalid(msg, Detail{Field: clip(name), Issue: "unknown_field"})
		}
		field, where := fieldOf(semantic.JSONPointer)
		if field == "" {
			return Invalid("request body must be a JSON object, not " + kindName(semantic.JSONKind, nil))
		}
		return Invalid(fmt.Sprintf("field %s must be %s, not %s", where, jsonType(semantic.GoType), kindName(semantic.JSONKind, semantic.JSONValue)),
			Detail{Field: field, Issue: "wrong_type"})
	}
	return Invalid("request body could not be read as JSON")
}

// fieldOf names the place a JSON pointer points at: the request field (its
// first token) and the whole path as a person would write it, scopes[0].
func fieldOf(p jsontext.Pointer) (field, where string) {
	var b strings.Builder
	for tok := range p.Tokens() {
		switch {
		case field == "":
			field = clip(tok)
			b.WriteString(field)
		case tok != "" && strings.Trim(tok, "0123456789") == "":
			b.WriteString("[" + tok + "]")
		default:
			b.WriteString("." + clip(tok))
		}
	}
	return field, b.String()
}

// tagNamed returns the json name of t's field that name matches but for
// case, for a hint; "" if none does.
func tagNamed(t reflect.Type, name string) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return ""
	}
	for f := range t.Fields() {
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag != "" && tag != "-" && strings.EqualFold(tag, name) {
			return tag
		}
	}
	return ""
}

// kindName names a JSON value for a message: "a string", "number 1.5".
func kindName(k jsontext.Kind, v jsontext.Value) string {
	switch k {
	case '"':
		return "a string"
	case '0':
		if len(v) > 0 && len(v) <= 32 && string(v) != "null" {
			return "number " + string(v)
		}
		return "a number"
	case '[':
		return "an array"
	case '{':
		return "an object"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "something else"
}

func jsonType(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	}
	return "a number"
}

// clip shortens a name the client sent to at most 64 bytes, on a character
// boundary, before it goes into a message.
func clip(s string) string {
	if len(s) <= 64 {
		return s
	}
	n := 64
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// Query returns the request's query parameters, one value each, after
// refusing any the endpoint does not take (takes names those it does) and
// any given more than once. An ignored parameter lets a caller believe
// ?dry_run=true was honoured; a repeated one leaves which value counts to
// chance. API Gateway passes every value in multiValueQueryStringParameters
// and only the last in queryStringParameters, so both are read.
func Query(req events.APIGatewayProxyRequest, takes ...string) (map[string]string, error) {
	values := map[string][]string{}
	for name, vs := range req.MultiValueQueryStringParameters {
		values[name] = append(values[name], vs...)
	}
	for name, v := range req.QueryStringParameters {
		if !slices.Contains(values[name], v) {
			values[name] = append(values[name], v)
		}
	}
	names := slices.Sorted(maps.Keys(values))
	var unknown []Detail
	for _, name := range names {
		if !slices.Contains(takes, name) {
			unknown = append(unknown, Detail{Field: clip(name), Issue: "unknown_parameter"})
		}
	}
	if len(unknown) > 0 {
		use := "this endpoint takes no query parameters"
		if len(takes) > 0 {
			use = "use " + strings.Join(takes, ", ")
		}
		what := fmt.Sprintf("unknown query parameter %q", unknown[0].Field)
		if len(unknown) > 1 {
			what = fmt.Sprintf("%d unknown query parameters (%q, …)", len(unknown), unknown[0].Field)
		}
		return nil, Invalid(what+"; "+use+" (names are case-sensitive)", unknown...)
	}
	out := make(map[string]string, len(names))
	for _, name := range names {
		if vs := values[name]; len(vs) > 1 {
			return nil, Invalid(fmt.Sprintf("query parameter %s is given %d times; give it once", name, len(vs)),
				Detail{Field: name, Issue: "repeated_parameter"})
		}
		out[name] = ""
		if vs := values[name]; len(vs) == 1 {
			out[name] = vs[0]
		}
	}
	return out, nil
}
