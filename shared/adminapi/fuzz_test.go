package adminapi

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/oklog/ulid/v2"

	"github.com/flowella/apikeys/shared/httpapi"
	"github.com/flowella/apikeys/shared/keystore"
)

// bodyDecoders are the request bodies of create, PATCH, revoke and roll, as
// their handlers decode them.
var bodyDecoders = []struct {
	name       string
	allowEmpty bool
	dst        func() any
}{
	{"create", false, func() any { return new(createRequest) }},
	{"update", false, func() any { return new(updateRequest) }},
	{"revoke", true, func() any { return new(revokeRequest) }},
	{"roll", true, func() any { return new(rollRequest) }},
}

// FuzzRequestBodies: whatever the body, decoding does not panic; every
// refusal is a 4xx httpapi error; an accepted body is one JSON object whose
// member names are the request type's json names, spelt exactly, each once;
// and a label or reason that is accepted holds no character people cannot see.
func FuzzRequestBodies(f *testing.F) {
	for _, s := range []string{
		`{"label":"n8n production","scopes":["messages:read"],"expires_at":"2027-01-31T00:00:00Z","allowed_ips":["10.0.0.0/8"],"channels":["ch_1"]}`,
		`{"label":"a","scopes":null,"allowed_ips":[],"channels":[]}`,
		`{"scopes":["messages:read"],"SCOPES":["*"]}`,
		`{"LABEL":"x"}`,
		`{"label":"a","label":"b"}`,
		`{"label":"a","l\u0061bel":"b"}`,
		`{"reason":"leaked in a public repo"}`,
		`{"reason":"a","Reason":"b"}`,
		`{"grace_period_seconds":3600}`,
		`{"grace_period_seconds":9223372037,"grace_period_seconds":0}`,
		`{"grace_period_seconds":1.5}`,
		`{"label":"prod \u202egnp.exe"}`,
		`{"label":"a\ud800"}`,
		`{"label":"\ufeffx\u200b"}`,
		`{"scopes":[{"a":1,"a":2}]}`,
		`{"label":"a"} {"label":"b"}`,
		`[{"label":"a"}]`,
		`null`,
		``,
		" \t\n",
		`{"label":`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, d := range bodyDecoders {
			req := events.APIGatewayProxyRequest{Body: body, Headers: map[string]string{"Content-Type": "application/json"}}
			dst := d.dst()
			err := httpapi.DecodeJSON(req, dst, d.allowEmpty)
			if err != nil {
				var apiErr *httpapi.Error
				if !errors.As(err, &apiErr) || apiErr.Status < 400 || apiErr.Status > 499 || apiErr.Message == "" {
					t.Fatalf("%s %q: refused with %v, not a 4xx httpapi error", d.name, body, err)
				}
				continue
			}
			if strings.TrimSpace(body) == "" && d.allowEmpty {
				continue
			}
			names, ok := memberNames(body)
			if !ok {
				t.Fatalf("%s accepted %q, which is not one JSON object", d.name, body)
			}
			known := jsonNames(reflect.TypeOf(dst).Elem())
			for i, n := range names {
				if !slices.Contains(known, n) || slices.Contains(names[:i], n) {
					t.Fatalf("%s accepted %q: member %q is unknown, odd-case or repeated", d.name, body, n)
				}
			}
			checkFreeText(t, dst)
		}
	})
}

// checkFreeText runs the label and reason checks on what was decoded.
func checkFreeText(t *testing.T, dst any) {
	t.Helper()
	var field string
	var raw *string
	var clean func(string) (string, error)
	switch v := dst.(type) {
	case *createRequest:
		field, raw, clean = "label", v.Label, cleanLabel
	case *updateRequest:
		field, raw, clean = "label", v.Label, cleanLabel
	case *revokeRequest:
		field, raw, clean = "reason", v.Reason, cleanReason
	}
	if raw == nil {
		return
	}
	got, err := clean(*raw)
	if err != nil {
		var apiErr *httpapi.Error
		if !errors.As(err, &apiErr) || apiErr.Status != 400 || len(apiErr.Details) == 0 || apiErr.Details[0].Field != field {
			t.Fatalf("%s %q: refused with %v, not a 400 naming it", field, *raw, err)
		}
		return
	}
	if !utf8.ValidString(got) {
		t.Fatalf("%s %q accepted as invalid UTF-8", field, *raw)
	}
	for _, r := range got {
		if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp) {
			t.Fatalf("%s %q accepted with %U", field, *raw, r)
		}
	}
}

// memberNames returns the names of the members of the one JSON object s
// holds, duplicates included, read without the strict decoder's rules.
func memberNames(s string) ([]string, bool) {
	dec := jsontext.NewDecoder(strings.NewReader(s), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return nil, false
	}
	var names []string
	for {
		tok, err := dec.ReadToken()
		if err != nil {
			return nil, false
		}
		if tok.Kind() == '}' {
			break
		}
		names = append(names, tok.String())
		if err := dec.SkipValue(); err != nil {
			return nil, false
		}
	}
	if _, err := dec.ReadToken(); err == nil {
		return nil, false
	}
	return names, true
}

func jsonNames(t reflect.Type) []string {
	var names []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		names = append(names, name)
	}
	return names
}

var cursorKinds = map[string]cursorKind{"keys": keyCursor, "audit": auditCursor}

// FuzzCursors: whatever the cursor, decoding does not panic; a refusal is a
// 400 naming cursor; a cursor that decodes is exactly the one its position
// encodes to.
func FuzzCursors(f *testing.F) {
	for _, s := range []string{
		*keyCursor.encode("key_01KMZ0000000000000000000AB"),
		*auditCursor.encode("2026-11-25T10:00:00.000Z#aud_01KMZ0000000000000000000AB"),
		"azE6a2V5XzAxS01aMDAwMDAwMDAwMDAwMDAwMDAwMEFC", // k1, before the checksum
		"abc",
		"",
		"a2V5Xw==",
		"\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for name, kind := range cursorKinds {
			position, err := kind.decode(s)
			if err != nil {
				var apiErr *httpapi.Error
				if !errors.As(err, &apiErr) || apiErr.Status != 400 || len(apiErr.Details) != 1 || apiErr.Details[0].Field != "cursor" {
					t.Fatalf("%s cursor %q: refused with %v, not a 400 naming cursor", name, s, err)
				}
				continue
			}
			if !kind.valid(position) {
				t.Fatalf("%s cursor %q decoded to invalid position %q", name, s, position)
			}
			if again := kind.encode(position); again == nil || *again != s {
				t.Fatalf("%s cursor %q decoded to %q, which encodes to %v", name, s, position, again)
			}
		}
	})
}

// FuzzTamperedCursor: a cursor the API issued, with one character changed or
// cut short, is a 400.
func FuzzTamperedCursor(f *testing.F) {
	f.Add([]byte("0123456789abcdef"), int64(1795600800000), uint16(0), byte('A'), false)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, int64(0), uint16(70), byte(63), true)
	f.Add([]byte{}, int64(253402300799999), uint16(61), byte(0), true)
	f.Fuzz(func(t *testing.T, id []byte, millis int64, at uint16, to byte, audit bool) {
		var u ulid.ULID
		copy(u[:], id)
		kind, position := keyCursor, "key_"+u.String()
		if audit {
			at := time.UnixMilli(min(max(millis, 0), 253402300799999)) // up to 9999-12-31
			kind, position = auditCursor, keystore.FormatTime(at)+"#aud_"+u.String()
		}
		if !kind.valid(position) {
			t.Fatalf("position %q is not valid", position)
		}
		cursor := *kind.encode(position)
		if got, err := kind.decode(cursor); err != nil || got != position {
			t.Fatalf("%q does not decode to %q: %q, %v", cursor, position, got, err)
		}
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		i := int(at) % len(cursor)
		c := alphabet[int(to)%len(alphabet)]
		if c == cursor[i] {
			c = alphabet[(int(to)+1)%len(alphabet)]
		}
		for _, tampered := range []string{cursor[:i] + string(c) + cursor[i+1:], cursor[:i], cursor + string(c)} {
			if got, err := kind.decode(tampered); err == nil {
				t.Fatalf("tampered cursor %q (issued %q) decoded to %q", tampered, cursor, got)
			}
		}
	})
}
