package authorizer_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/flowella/apikeys/shared/authorizer"
	"github.com/flowella/apikeys/shared/principal"
)

// lambdaJSON is what aws-lambda-go's reflection path writes for v: its
// encoder, HTML left unescaped, without the newline Encode adds.
func lambdaJSON(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func restPolicy(effect, principalID, arn string, ctx map[string]any) events.APIGatewayCustomAuthorizerResponse {
	return events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: principalID,
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{Version: "2012-10-17", Statement: []events.IAMPolicyStatement{{
			Action: []string{"execute-api:Invoke"}, Effect: effect, Resource: []string{arn}}}},
		Context: ctx,
	}
}

// The answer written by hand is the one the events types marshal to, byte
// for byte, for every kind of answer and for text that needs escaping.
func TestResponseJSONIsTheEventsTypes(t *testing.T) {
	const arn = "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/v1/contacts/c_1"
	key := principal.Encode(principal.Principal{Type: principal.APIKey, OrgID: "org_a", KeyID: "key_01KMZ0000000000000000000AB",
		KeyPrefix: "flwl_live_a1b2c3", Scopes: []string{"contacts:read", "messages:send"}, Channels: []string{"ch_1"}})
	sess := principal.Encode(principal.Principal{Type: principal.Session, OrgID: "org_a", UserID: "u_1", Role: "admin"})
	odd := map[string]any{"quote\"back\\slash": "<tag>&amp;\n\t\r\b\f\x00\x1f\u2028\u2029é😀\xff\xfe end",
		"flag": true, "n": 3, "big": int64(-1) << 40, "f": 1.5, "none": nil}
	tests := []struct {
		name string
		got  authorizer.Response
		want any
	}{
		{"REST allow", authorizer.Response{Allow: true, PrincipalID: "key_1", MethodArn: arn, Context: key},
			restPolicy("Allow", "key_1", arn, key)},
		{"REST allow, session", authorizer.Response{Allow: true, PrincipalID: "u_1", MethodArn: arn, Context: sess},
			restPolicy("Allow", "u_1", arn, sess)},
		{"REST deny with the key's identity", authorizer.Response{PrincipalID: "key_1", MethodArn: arn, Context: key},
			restPolicy("Deny", "key_1", arn, key)},
		{"REST deny, no context", authorizer.Response{PrincipalID: "denied", MethodArn: arn},
			restPolicy("Deny", "denied", arn, nil)},
		{"REST empty context left out", authorizer.Response{PrincipalID: "denied", MethodArn: "", Context: map[string]any{}},
			restPolicy("Deny", "denied", "", map[string]any{})},
		{"REST text to escape", authorizer.Response{Allow: true, PrincipalID: "p\"<\u2028>\xff", MethodArn: arn + "/<é>", Context: odd},
			restPolicy("Allow", "p\"<\u2028>\xff", arn+"/<é>", odd)},
		{"HTTP allow", authorizer.Response{HTTP: true, Allow: true, Context: key},
			events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: true, Context: key}},
		{"HTTP deny", authorizer.Response{HTTP: true},
			events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: false}},
		{"HTTP text to escape", authorizer.Response{HTTP: true, Allow: true, Context: odd},
			events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: true, Context: odd}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.got.AppendJSON([]byte("prefix"))
			if err != nil {
				t.Fatal(err)
			}
			got, ok := bytes.CutPrefix(got, []byte("prefix"))
			if !ok {
				t.Fatalf("AppendJSON did not append: %s", got)
			}
			if want := lambdaJSON(t, tt.want); !bytes.Equal(got, want) {
				t.Fatalf("\n got %s\nwant %s", got, want)
			}
			if !json.Valid(got) {
				t.Fatalf("not JSON: %s", got)
			}
		})
	}
}

// A context value JSON cannot hold is an error, not a broken answer.
func TestResponseJSONRefusesWhatJSONCannotHold(t *testing.T) {
	r := authorizer.Response{Allow: true, Context: map[string]any{"bad": func() {}}}
	if b, err := r.AppendJSON(nil); err == nil {
		t.Fatalf("wrote %s", b)
	}
	if _, err := json.Marshal(r); err == nil {
		t.Fatal("MarshalJSON accepted a function")
	}
}

// A context value API Gateway would not take (a list, a map) is refused,
// not written in some spelling of its own.
func TestResponseRefusesContextValuesAPIGatewayDoesNotTake(t *testing.T) {
	for _, v := range []any{[]string{"<&>"}, map[string]any{"a": "b"}, struct{}{}} {
		r := authorizer.Response{Allow: true, PrincipalID: "p", MethodArn: "arn:aws:execute-api:eu-west-1:1:a/prod/GET/v1/whoami",
			Context: map[string]any{"scopes": v}}
		if b, err := r.AppendJSON(nil); err == nil {
			t.Errorf("%T written as %s", v, b)
		}
	}
}
