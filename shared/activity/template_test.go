package activity_test

import (
	"regexp"
	"testing"
	"time"

	"github.com/flowella/apikeys/local/dynamotest"
	"github.com/flowella/apikeys/shared/activity"
	"github.com/flowella/apikeys/shared/samtemplate"
)

// The template's access log format carries what the recorder reads: a
// line filled as API Gateway fills it is recorded with its route, status,
// latency and whether the authorizer refused it.
func TestAccessLogFormatCarriesWhatIsRecorded(t *testing.T) {
	tpl, err := samtemplate.Load(dynamotest.TemplatePath(t))
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{
		"requestTimeEpoch": "1795600800000", "requestId": "0d5f2e1a-6c1b-4c8e-9a57-2b3c4d5e6f70", "httpMethod": "GET",
		"path": "/v1/contacts", "resourcePath": "/v1/contacts", "status": "403", "responseLatency": "12",
		"identity.sourceIp": "203.0.113.7", "identity.userAgent": "n8n/1.64.0", "authorizer.principal_type": "api_key",
		"authorizer.org_id": "org_demo", "authorizer.key_id": "key_01KMZ0000000000000000000AB",
		"authorizer.key_prefix": "flwl_live_a1b2c3", "error.responseType": "ACCESS_DENIED",
	}
	line := regexp.MustCompile(`\$context\.[A-Za-z0-9_.]+`).ReplaceAllStringFunc(tpl.AccessLogFormat("FlowellaApi"), func(v string) string {
		if val, ok := vars[v[len("$context."):]]; ok {
			return val
		}
		return "-"
	})
	o, ok := activity.Parse(line, time.Now())
	if !ok || o.Route != "/v1/contacts" || o.Status != 403 || o.LatencyMS == nil || o.Outcome != activity.Refused ||
		o.KeyID != "key_01KMZ0000000000000000000AB" || o.UserAgent != "n8n/1.64.0" || !o.At.Equal(time.UnixMilli(1795600800000)) {
		t.Fatalf("from %s: %+v (ok %v)", line, o, ok)
	}
}
