package httpapi

import (
	"encoding/base64"
	"errors"
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
		})
	}
}
