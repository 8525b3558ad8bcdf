package httpapi

import (
	"encoding/base64"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func TestDecodeJSON(t *testing.T) {
	type body struct {
		Label *string  `json:"label"`
		Tags  []string `json:"tags"`
		Grace *int64   `json:"grace"`
	}
	tests := []struct {
		name       string
		body       string
		ct         string
		b64        bool
		allowEmpty bool
		status     int // 0 for success
		message    string
		field      string // the field details must name, if any
		issue      string
	}{
		{name: "ok", body: `{"label":"a"}`, ct: "application/json"},
		{name: "charset", body: `{"label":"a"}`, ct: "application/json; charset=utf-8"},
		{name: "base64", body: base64.StdEncoding.EncodeToString([]byte(`{"label":"a"}`)), ct: "application/json", b64: true},
		{name: "empty allowed", body: "", allowEmpty: true},
		{name: "empty refused", body: " ", ct: "application/json", status: 400, message: "empty"},
		{name: "form", body: `{"label":"a"}`, ct: "application/x-www-form-urlencoded", status: 415},
		{name: "no content type", body: `{"label":"a"}`, status: 415},
		{name: "syntax", body: `{"label":}`, ct: "application/json", status: 400, message: "not valid JSON"},
		{name: "truncated", body: `{"label":"a"`, ct: "application/json", status: 400, message: "truncated"},
		{name: "wrong type", body: `{"label":1}`, ct: "application/json", status: 400, message: "field label must be a string"},
		{name: "fraction for integer", body: `{"grace":1.5}`, ct: "application/json", status: 400, message: "field grace must be a whole number, not number 1.5"},
		{name: "array for object", body: `[1]`, ct: "application/json", status: 400, message: "must be a JSON object"},
		{name: "unknown field", body: `{"lable":"a"}`, ct: "application/json", status: 400, message: `unknown field "lable"`},
		{name: "trailing", body: `{"label":"a"} {}`, ct: "application/json", status: 400, message: "after the JSON object"},
		{name: "too large", body: `{"label":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, ct: "application/json", status: 413},
		{name: "bad base64", body: "%%%", ct: "application/json", b64: true, status: 400},
		{name: "invalid utf-8", body: "{\"label\":\"\xff\"}", ct: "application/json", status: 400, message: "UTF-8"},
		// Names match exactly and once (issue 8, finding 7).
		{name: "odd-case field", body: `{"LABEL":"a"}`, ct: "application/json", status: 400,
			message: `unknown field "LABEL"; field names are case-sensitive: did you mean "label"?`, field: "LABEL", issue: "unknown_field"},
		{name: "odd-case after exact", body: `{"tags":["a"],"TAGS":["*"]}`, ct: "application/json", status: 400,
			message: `unknown field "TAGS"`, field: "TAGS", issue: "unknown_field"},
		{name: "duplicate field", body: `{"label":"a","label":"b"}`, ct: "application/json", status: 400,
			message: "field label is given more than once", field: "label", issue: "duplicate_field"},
		{name: "duplicate inside a value", body: `{"tags":["a"],"label":"x","grace":1,"tags":[]}`, ct: "application/json", status: 400,
			message: "field tags is given more than once", field: "tags", issue: "duplicate_field"},
		{name: "wrong type names the field", body: `{"tags":"a"}`, ct: "application/json", status: 400,
			message: "field tags must be an array, not a string", field: "tags", issue: "wrong_type"},
		{name: "wrong element type names the element", body: `{"tags":["a",2]}`, ct: "application/json", status: 400,
			message: "field tags[1] must be a string, not a number", field: "tags", issue: "wrong_type"},
		{name: "syntax error names the field", body: `{"label":tru}`, ct: "application/json", status: 400,
			message: "not valid JSON (at byte 12, in label)", field: "label", issue: "invalid_json"},
		{name: "lone surrogate", body: `{"label":"a\ud800"}`, ct: "application/json", status: 400,
			message: "field label has a \\u escape that is not a Unicode character", field: "label", issue: "invalid_utf8"},
		{name: "null body", body: `null`, ct: "application/json", status: 400, message: "must be a JSON object, not null"},
		{name: "string body", body: `"label"`, ct: "application/json", status: 400, message: "must be a JSON object, not a string"},
		{name: "long unknown name is clipped", body: `{"` + strings.Repeat("é", 40) + `":1}`, ct: "application/json", status: 400,
			message: `unknown field "` + strings.Repeat("é", 32) + `…"`, field: strings.Repeat("é", 32) + "…", issue: "unknown_field"},
		{name: "nothing unknown, all exact", body: `{"label":"a","tags":["x"],"grace":3}`, ct: "application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := events.APIGatewayProxyRequest{Body: tt.body, IsBase64Encoded: tt.b64, Headers: map[string]string{}}
			if tt.ct != "" {
				req.Headers["content-type"] = tt.ct
			}
			var b body
			err := DecodeJSON(req, &b, tt.allowEmpty)
			if tt.status == 0 {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			var apiErr *Error
			if !errors.As(err, &apiErr) || apiErr.Status != tt.status || !strings.Contains(apiErr.Message, tt.message) {
				t.Fatalf("err = %v, want %d containing %q", err, tt.status, tt.message)
			}
			if tt.field != "" && !slices.Contains(apiErr.Details, Detail{Field: tt.field, Issue: tt.issue}) {
				t.Fatalf("details %+v, want {%s %s}", apiErr.Details, tt.field, tt.issue)
			}
		})
	}
}

func TestQuery(t *testing.T) {
	tests := []struct {
		name   string
		single map[string]string
		multi  map[string][]string
		takes  []string
		want   map[string]string // nil: refused
		field  string
		issue  string
	}{
		{name: "none", takes: nil, want: map[string]string{}},
		{name: "taken", single: map[string]string{"limit": "5"}, multi: map[string][]string{"limit": {"5"}},
			takes: []string{"limit", "cursor"}, want: map[string]string{"limit": "5"}},
		{name: "multi only", multi: map[string][]string{"limit": {"5"}}, takes: []string{"limit"}, want: map[string]string{"limit": "5"}},
		{name: "empty value", single: map[string]string{"cursor": ""}, takes: []string{"cursor"}, want: map[string]string{"cursor": ""}},
		{name: "endpoint takes none", single: map[string]string{"dry_run": "true"}, field: "dry_run", issue: "unknown_parameter"},
		{name: "unknown beside known", single: map[string]string{"limit": "5", "sort": "asc"}, takes: []string{"limit"},
			field: "sort", issue: "unknown_parameter"},
		{name: "case matters", single: map[string]string{"Limit": "5"}, takes: []string{"limit"}, field: "Limit", issue: "unknown_parameter"},
		{name: "repeated", single: map[string]string{"limit": "2"}, multi: map[string][]string{"limit": {"1", "2"}},
			takes: []string{"limit"}, field: "limit", issue: "repeated_parameter"},
		{name: "repeated, same value", multi: map[string][]string{"limit": {"1", "1"}}, takes: []string{"limit"},
			field: "limit", issue: "repeated_parameter"},
		{name: "single and multi disagree", single: map[string]string{"limit": "9"}, multi: map[string][]string{"limit": {"1"}},
			takes: []string{"limit"}, field: "limit", issue: "repeated_parameter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := events.APIGatewayProxyRequest{QueryStringParameters: tt.single, MultiValueQueryStringParameters: tt.multi}
			got, err := Query(req, tt.takes...)
			if tt.want != nil {
				if err != nil || !maps.Equal(got, tt.want) {
					t.Fatalf("Query = %v, %v; want %v", got, err, tt.want)
				}
				return
			}
			var apiErr *Error
			if !errors.As(err, &apiErr) || apiErr.Status != 400 || !strings.Contains(apiErr.Message, tt.field) ||
				!slices.Contains(apiErr.Details, Detail{Field: tt.field, Issue: tt.issue}) {
				t.Fatalf("err = %v (details %+v), want 400 naming %s, %s", err, apiErr, tt.field, tt.issue)
			}
		})
	}
}
