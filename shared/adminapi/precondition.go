package adminapi

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/flowella/apikeys/shared/httpapi"
	"github.com/flowella/apikeys/shared/keystore"
)

// IfMatchHeader makes PATCH, revoke and roll conditional on the key's ETag.
const IfMatchHeader = "If-Match"

// etagOf is k's entity tag: strong, opaque, and derived from its id and
// version, so every admin write changes it. Last-used updates and the
// passage of time (expiry, hygiene flags) do not: the tag is for acting on
// the key as read, which they never undo.
func etagOf(k keystore.Key) string {
	sum := sha256.Sum256([]byte(k.ID + "/" + strconv.FormatInt(k.Version, 10)))
	return `"` + hex.EncodeToString(sum[:10]) + `"`
}

// precondition is a request's If-Match (RFC 9110, 13.1.1); nil when the
// request has none.
type precondition struct {
	any  bool     // "*": any current representation
	tags []string // the entity tags sent, quotes included; weak ones never match
}

// preconditionOf reads If-Match. Every value of the header counts, as for
// any list header. A malformed one is a 400, not a silent mismatch.
func preconditionOf(req events.APIGatewayProxyRequest) (*precondition, error) {
	values, ok := headerValues(req, IfMatchHeader)
	if !ok {
		return nil, nil
	}
	invalid := func() error {
		return httpapi.Invalid(IfMatchHeader+` must be "*" or a list of ETags as this API sends them (with their double quotes), `+
			`such as If-Match: "3f2a…"`, httpapi.Detail{Field: IfMatchHeader, Issue: "invalid"})
	}
	p := &precondition{}
	for _, v := range values {
		rest := v
		for {
			rest = strings.TrimLeft(rest, " \t,")
			if rest == "" {
				break
			}
			if rest[0] == '*' {
				p.any = true
				rest = rest[1:]
			} else {
				weak := strings.HasPrefix(rest, "W/")
				tag, after, ok := opaqueTag(strings.TrimPrefix(rest, "W/"))
				if !ok {
					return nil, invalid()
				}
				if !weak {
					p.tags = append(p.tags, tag)
				} else {
					p.tags = append(p.tags, "W/"+tag)
				}
				rest = after
			}
			rest = strings.TrimLeft(rest, " \t")
			if rest != "" && rest[0] != ',' {
				return nil, invalid()
			}
		}
	}
	if p.any == (len(p.tags) > 0) { // neither, or "*" in a list
		return nil, invalid()
	}
	return p, nil
}

// opaqueTag reads a quoted entity tag at the start of s.
func opaqueTag(s string) (tag, rest string, ok bool) {
	if len(s) < 2 || s[0] != '"' {
		return "", s, false
	}
	end := strings.IndexByte(s[1:], '"')
	if end < 0 {
		return "", s, false
	}
	for _, c := range []byte(s[1 : end+1]) {
		if c < 0x21 || c == 0x7f { // etagc: %x21 / %x23-7E / obs-text; '"' ends the tag
			return "", s, false
		}
	}
	return s[:end+2], s[end+2:], true
}

// headerValues returns every value of a request header, whatever its case.
func headerValues(req events.APIGatewayProxyRequest, name string) ([]string, bool) {
	for k, vs := range req.MultiValueHeaders {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return vs, true
		}
	}
	if v, ok := httpapi.LookupHeader(req, name); ok {
		return []string{v}, true
	}
	return nil, false
}

// check holds the key as read to the precondition: 412 when no tag matches
// its ETag by strong comparison.
func (p *precondition) check(k keystore.Key) error {
	if p == nil || p.any {
		return nil
	}
	etag := etagOf(k)
	for _, t := range p.tags {
		if t == etag {
			return nil
		}
	}
	return httpapi.PreconditionFailed("the API key has changed since you read it: " + IfMatchHeader + " " +
		strings.Join(p.tags, ", ") + " does not match its current ETag " + etag +
		"; read it again (GET /v1/api-keys/" + k.ID + "), check the change still makes sense, and send its new ETag")
}

// changed turns a key changed between this request's read and its write
// into 412 when the request named the ETag it expected: that ETag no
// longer matches. Without If-Match (or with "*") it stays a 409 conflict.
func (p *precondition) changed(err error) error {
	if p == nil || p.any || !errors.Is(err, keystore.ErrChanged) {
		return err
	}
	return httpapi.PreconditionFailed("the API key changed while this request was being processed, so " + IfMatchHeader +
		" no longer matches its ETag; read it again, check the change still makes sense, and send its new ETag")
}
