package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
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

// DecodeJSON decodes the request body into dst strictly: JSON content type,
// at most MaxBodyBytes, one object, no unknown fields, no trailing data.
// An empty body is allowed only when allowEmpty is set, and leaves dst as is.
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
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Invalid("request body has data after the JSON object")
	}
	return nil
}

// jsonError says what is wrong with a body in words a person can act on.
func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return Invalid(fmt.Sprintf("request body is not valid JSON (at byte %d)", syntax.Offset))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return Invalid("request body is truncated JSON")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return Invalid(fmt.Sprintf("request body must be a JSON object, not %s", typ.Value))
		}
		return Invalid(fmt.Sprintf("field %s must be %s, not %s", typ.Field, jsonType(typ.Type.Kind().String()), typ.Value),
			Detail{Field: typ.Field, Issue: "wrong_type"})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		if len(name) > 64 {
			name = name[:64] + "…"
		}
		return Invalid(fmt.Sprintf("unknown field %q", name), Detail{Field: name, Issue: "unknown_field"})
	}
	return Invalid("request body could not be read as JSON")
}

func jsonType(kind string) string {
	switch kind {
	case "slice", "array":
		return "an array"
	case "string":
		return "a string"
	case "struct", "map", "ptr":
		return "an object"
	case "bool":
		return "a boolean"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "a whole number"
	}
	return "a number"
}
