package authorizer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/flowella/apikeys/shared/authorizer"
)

// The authorizer is a lambda.Handler: each event kind, through the bytes
// the runtime hands it, gets the answer the events types marshal to — or
// the error API Gateway turns into a 401 or a 500.
func TestInvokeAnswersEveryEventKind(t *testing.T) {
	f := newDecideFixture(t)
	secret, k := f.add(t, "org_hobby", []string{"contacts:read"}, nil)
	tok := "Bearer " + secret.Secret()
	const arnPrefix = "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/"
	tokenEvent := func(method, path, auth string) []byte {
		return []byte(`{"type":"TOKEN","authorizationToken":"` + auth + `","methodArn":"` + arnPrefix + method + path + `"}`)
	}
	ctxOf := func(scopes string) map[string]any {
		c := map[string]any{}
		for name, v := range keyContext(k, scopes, "") {
			c[name] = v
		}
		return c
	}
	allowed, refused := ctxOf("contacts:read"), ctxOf("-")
	tests := []struct {
		name  string
		event []byte
		want  any    // the answer, as the events types marshal it
		err   string // or the error
	}{
		{"REQUEST allow", requestEvent("GET", "/v1/contacts", tok),
			restPolicy("Allow", k.ID, arnPrefix+"GET/v1/contacts", allowed), ""},
		{"REQUEST deny", requestEvent("POST", "/v1/contacts", tok),
			restPolicy("Deny", k.ID, arnPrefix+"POST/v1/contacts", refused), ""},
		{"REQUEST session on a key route: deny, no context", requestEvent("GET", "/v1/contacts", "Bearer "+f.session(t, "org_hobby", "u_1", "admin")),
			restPolicy("Deny", "denied", arnPrefix+"GET/v1/contacts", nil), ""},
		{"REQUEST unknown key", requestEvent("GET", "/v1/contacts", "Bearer "+f.unknownKey()), nil, "Unauthorized"},
		{"REQUEST no credential", requestEvent("GET", "/v1/contacts", ""), nil, "Unauthorized"},
		{"TOKEN allow", tokenEvent("GET", "/v1/contacts/c_1", tok),
			restPolicy("Allow", k.ID, arnPrefix+"GET/v1/contacts/c_1", allowed), ""},
		{"TOKEN deny", tokenEvent("DELETE", "/v1/contacts/c_1", tok),
			restPolicy("Deny", k.ID, arnPrefix+"DELETE/v1/contacts/c_1", refused), ""},
		{"TOKEN malformed key", tokenEvent("GET", "/v1/contacts", "Bearer flwl_live_nonsense"), nil, "Unauthorized"},
		{"HTTP v2 allow", httpV2Event("GET", "/v1/contacts", tok),
			events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: true, Context: allowed}, ""},
		{"HTTP v2 deny, no context", httpV2Event("POST", "/v1/contacts", tok),
			events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: false}, ""},
		{"HTTP v2 unknown key", httpV2Event("GET", "/v1/contacts", "Bearer "+f.unknownKey()), nil, "Unauthorized"},
		{"unknown event type", []byte(`{"type":"SOMETHING"}`), nil, "Unauthorized"},
		{"not JSON", []byte(`{"type":`), nil, "decode authorizer event: invalid JSON at offset 8 (value)"},
		{"a field of the wrong type", []byte(`{"type":"TOKEN","authorizationToken":["Bearer x"]}`), nil, "decode authorizer event: wrong JSON type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// As the runtime calls it, and directly.
			for _, h := range []lambda.Handler{lambda.NewHandler(f.auth), f.auth} {
				out, err := h.Invoke(context.Background(), tt.event)
				if tt.err != "" {
					if err == nil || err.Error() != tt.err {
						t.Fatalf("answered %s, %v; want the error %q", out, err, tt.err)
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if want := lambdaJSON(t, tt.want); !bytes.Equal(out, want) {
					t.Fatalf("\n got %s\nwant %s", out, want)
				}
			}
		})
	}

	// A storage failure is an error in every format, never an answer, and
	// never the 401 that would tell the client its key is bad.
	f.keys.failRead = errors.New("ProvisionedThroughputExceededException: throttled")
	for _, ev := range [][]byte{requestEvent("GET", "/v1/contacts", tok), tokenEvent("GET", "/v1/contacts", tok), httpV2Event("GET", "/v1/contacts", tok)} {
		out, err := f.auth.Invoke(context.Background(), ev)
		if err == nil || !errors.Is(err, authorizer.ErrUnavailable) {
			t.Fatalf("store failure: answered %s, %v; want ErrUnavailable", out, err)
		}
	}
}

// The decision line keeps its fields and their names: key activity
// (shared/activity) and the template's metric filters read them.
func TestDecisionLogLineFields(t *testing.T) {
	f := newDecideFixture(t)
	secret, k := f.add(t, "org_hobby", []string{"contacts:read"}, nil)
	ev := requestEvent("GET", "/v1/contacts", "Bearer "+secret.Secret())
	var withUA map[string]any
	_ = json.Unmarshal(ev, &withUA)
	withUA["headers"].(map[string]any)["User-Agent"] = "n8n/1.0"
	withUA["requestContext"].(map[string]any)["extendedRequestId"] = "ext-1"
	ev, _ = json.Marshal(withUA)
	tests := []struct {
		name  string
		event []byte
		want  map[string]any
	}{
		{"allow", ev, map[string]any{"level": "INFO", "msg": "authorizer decision",
			"request_id": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", "extended_request_id": "ext-1", "method": "GET",
			"resource": "/v1/contacts", "path": "/v1/contacts", "source_ip": "203.0.113.7", "user_agent": "n8n/1.0",
			"outcome": "allow", "reason_code": "allowed", "reason": "api key",
			"key_id": k.ID, "key_prefix": k.Prefix, "org_id": "org_hobby"}},
		{"refused before the key is identified", requestEvent("GET", "/v1/contacts", "Bearer nonsense"), map[string]any{
			"level": "WARN", "msg": "authorizer decision",
			"request_id": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", "extended_request_id": "", "method": "GET",
			"resource": "/v1/contacts", "path": "/v1/contacts", "source_ip": "203.0.113.7", "user_agent": "",
			"outcome": "unauthenticated", "reason_code": "unrecognised_credential",
			"reason": "token is neither an API key nor a session token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.logs.Reset()
			_, _ = f.auth.Invoke(context.Background(), tt.event)
			lines := strings.Split(strings.TrimSpace(f.logs.String()), "\n")
			if len(lines) != 1 {
				t.Fatalf("%d log lines, want 1: %s", len(lines), f.logs.String())
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
				t.Fatal(err)
			}
			delete(got, "time")
			if !maps.Equal(got, tt.want) {
				t.Fatalf("log line\n got %v\nwant %v\nextra or missing: %v", got, tt.want, diffKeys(got, tt.want))
			}
		})
	}
}

func diffKeys(a, b map[string]any) []string {
	var d []string
	for k := range a {
		if _, ok := b[k]; !ok {
			d = append(d, "+"+k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			d = append(d, "-"+k)
		}
	}
	slices.Sort(d)
	return d
}

func (f *decideFixture) unknownKey() string {
	return (&fixture{}).unknownKey()
}
