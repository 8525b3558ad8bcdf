package principal_test

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/flowella/apikeys/shared/activity"
	"github.com/flowella/apikeys/shared/principal"
	"github.com/flowella/apikeys/shared/samtemplate"
)

const api = "FlowellaApi"

func accessLogFormat(t *testing.T) string {
	t.Helper()
	tpl, err := samtemplate.Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	format := tpl.AccessLogFormat(api)
	if format == "" {
		t.Fatalf("template.yaml: %s has no AccessLogSetting.Format", api)
	}
	return format
}

var authorizerVar = regexp.MustCompile(`\$context\.authorizer\.([A-Za-z0-9_]+)`)

// Every $context.authorizer value of the access log is one the authorizer
// writes (a name it does not write logs "-" for ever), under the same field
// name, the one key activity reads.
func TestAccessLogFormatRecordsTheContextByItsNames(t *testing.T) {
	format := accessLogFormat(t)
	encoded := map[string]bool{}
	for _, p := range []principal.Principal{apiKey, session} {
		for name := range principal.Encode(p) {
			encoded[name] = true
		}
	}
	var fields map[string]string
	if err := json.Unmarshal([]byte(format), &fields); err != nil {
		t.Fatalf("access log format is not a JSON object of strings: %v", err)
	}
	logged := map[string]string{} // context name -> access log field
	for field, value := range fields {
		if m := authorizerVar.FindStringSubmatch(value); m != nil {
			if value != m[0] {
				t.Errorf("access log field %q is %q; give each $context.authorizer value a field of its own", field, value)
			}
			logged[m[1]] = field
		}
	}
	if all := authorizerVar.FindAllString(format, -1); len(all) != len(logged) {
		t.Fatalf("format has %d $context.authorizer values, %d of them in a field of their own: %s", len(all), len(logged), format)
	}
	for name, field := range logged {
		if !encoded[name] {
			t.Errorf("access log field %q records $context.authorizer.%s, which package principal never writes", field, name)
		}
		if field != name {
			t.Errorf("access log records $context.authorizer.%s as %q; name it %q, as the context and key activity do", name, field, name)
		}
	}
	// What key activity needs to attribute a request to a key.
	for _, name := range []string{principal.FieldType, principal.FieldOrgID, principal.FieldKeyID, principal.FieldKeyPrefix} {
		if _, ok := logged[name]; !ok {
			t.Errorf("access log does not record $context.authorizer.%s", name)
		}
	}
}

// An access log line filled as API Gateway fills it from an API key's
// context is attributed by key activity to that key.
func TestKeyActivityReadsTheKeyFromTheAccessLog(t *testing.T) {
	ctx := principal.Encode(apiKey)
	vars := map[string]string{
		"requestTimeEpoch": "1795600800000", "requestId": "0d5f2e1a-6c1b-4c8e-9a57-2b3c4d5e6f70",
		"extendedRequestId": "Kx3fWEXAMPLE=", "httpMethod": "POST", "path": "/v1/messages",
		"resourcePath": "/v1/messages", "status": "200", "responseLatency": "12",
		"identity.sourceIp": "203.0.113.7", "identity.userAgent": "n8n/1.64.0",
	}
	line := regexp.MustCompile(`\$context\.[A-Za-z0-9_.]+`).ReplaceAllStringFunc(accessLogFormat(t), func(v string) string {
		if m := authorizerVar.FindStringSubmatch(v); m != nil {
			if val, ok := ctx[m[1]].(string); ok {
				return val
			}
			return "-" // as API Gateway logs a value the context lacks
		}
		if val, ok := vars[v[len("$context."):]]; ok {
			return val
		}
		return "-"
	})
	o, ok := activity.Parse(line, time.Now())
	if !ok || o.OrgID != apiKey.OrgID || o.KeyID != apiKey.KeyID || o.KeyPrefix != apiKey.KeyPrefix || o.Status != 200 {
		t.Fatalf("from %s: %+v (ok %v); want the request attributed to %s of %s (%s)", line, o, ok, apiKey.KeyID, apiKey.OrgID, apiKey.KeyPrefix)
	}
}
