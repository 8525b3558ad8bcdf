package activity

import (
	"strings"
	"testing"
	"time"
)

const (
	testKey = "key_01KMZ0000000000000000000AB"
	testRID = "0d5f2e1a-6c1b-4c8e-9a57-2b3c4d5e6f70"
)

func TestParse(t *testing.T) {
	at := time.UnixMilli(1795600800500)
	access := func(status, keyID, errType string) string {
		return `{"time":"1795600800000","request_id":"` + testRID + `","method":"POST","path":"/v1/messages","status":"` + status +
			`","latency_ms":"41","source_ip":"203.0.113.7","user_agent":"n8n/1.64.0","principal_type":"api_key","org_id":"org_demo",` +
			`"key_id":"` + keyID + `","key_prefix":"flwl_live_a1b2c3","user_id":"-","route":"/v1/messages","error_type":"` + errType + `"}`
	}
	decision := func(msgKey, outcome, keyID string) string {
		return `{"time":"2026-11-25T10:00:00.400Z","level":"WARN","` + msgKey + `":"authorizer decision","request_id":"` + testRID +
			`","method":"GET","resource":"/v1/whoami","path":"/v1/whoami","source_ip":"198.51.100.23","outcome":"` + outcome +
			`","reason_code":"revoked","reason":"api key is revoked","key_id":"` + keyID + `","key_prefix":"flwl_live_a1b2c3","org_id":"org_demo"}`
	}
	tests := []struct {
		name string
		line string
		ok   bool
		want func(Observation) bool
	}{
		{"allowed request", access("200", testKey, "-"), true, func(o Observation) bool {
			return o.Source == FromAccessLog && o.direct() && o.Status == 200 && o.Outcome == Allowed && o.Route == "/v1/messages" &&
				*o.LatencyMS == 41 && o.At.Equal(time.UnixMilli(1795600800000)) && o.UserAgent == "n8n/1.64.0"
		}},
		{"backend's 403 is allowed by the authorizer", access("403", testKey, "-"), true, func(o Observation) bool {
			return o.Outcome == Allowed && o.direct()
		}},
		{"authorizer's 403", access("403", testKey, "ACCESS_DENIED"), true, func(o Observation) bool {
			return o.Outcome == Refused && !o.direct() && o.identified()
		}},
		// A 401's record is its decision line; its access line adds
		// nothing, and would make a second record if it named the key.
		{"401 names no key", access("401", "-", "UNAUTHORIZED"), false, nil},
		{"401 naming a key is left to its decision line", access("401", testKey, "UNAUTHORIZED"), false, nil},
		{"backend's 401 is allowed by the authorizer", access("401", testKey, "-"), true, func(o Observation) bool {
			return o.Outcome == Allowed && o.Status == 401 && o.direct()
		}},
		{"404 without a key", access("404", "-", "MISSING_AUTHENTICATION_TOKEN"), false, nil},
		{"malformed key id", access("200", "key_nope", "-"), false, nil},
		{"decision (Lambda's JSON logger)", decision("message", "unauthenticated", testKey), true, func(o Observation) bool {
			return o.Source == FromAuthorizer && o.Status == 401 && o.Reason == "revoked" && o.Route == "/v1/whoami" &&
				o.OrgID == "org_demo" && o.At.Equal(at) && o.direct()
		}},
		{"decision (slog's default keys)", decision("msg", "forbidden", testKey), true, func(o Observation) bool {
			return o.Status == 403 && o.Outcome == Refused && !o.direct()
		}},
		{"allowed decision adds nothing", decision("msg", "allow", testKey), false, nil},
		{"decision without a key", decision("msg", "unauthenticated", ""), false, nil},
		{"another log line", `{"msg":"last-used update failed","key_id":"` + testKey + `"}`, false, nil},
		{"session request", `{"request_id":"` + testRID + `","status":"200","principal_type":"session","org_id":"org_demo"}`, false, nil},
		{"not JSON", "START RequestId: 1 Version: $LATEST", false, nil},
		// A user agent carrying quotes, written first as the template's
		// format does: the gateway's own values after it still win, and
		// the injected msg does not make it a decision line.
		{"user agent injecting fields", `{"path":"/v1/messages","user_agent":"x","source_ip":"10.9.9.9","msg":"authorizer decision",` +
			`"outcome":"forbidden","status":"999","request_id":"` + testRID + `","time":"1795600800000","method":"POST","status":"200",` +
			`"latency_ms":"5","source_ip":"203.0.113.7","principal_type":"api_key","org_id":"org_demo","key_id":"` + testKey +
			`","key_prefix":"flwl_live_a1b2c3","user_id":"-","route":"/v1/messages","error_type":"-"}`, true, func(o Observation) bool {
			return o.Source == FromAccessLog && o.SourceIP == "203.0.113.7" && o.Status == 200 && o.Outcome == Allowed
		}},
		{"bad request id", `{"request_id":"a#b","status":"200","key_id":"` + testKey + `","org_id":"org_demo"}`, false, nil},
		// A user agent of 8,300 quotes, escaped: the line is over 16 KiB
		// (once the most read), and still read, its user agent clipped.
		{"user agent made long on purpose", `{"path":"/v1/messages","user_agent":"` + strings.Repeat(`\"`, 8300) +
			`","request_id":"` + testRID + `","time":"1795600800000","method":"POST","status":"200",` +
			`"latency_ms":"5","source_ip":"203.0.113.7","principal_type":"api_key","org_id":"org_demo","key_id":"` + testKey +
			`","key_prefix":"flwl_live_a1b2c3","user_id":"-","route":"/v1/messages","error_type":"-"}`, true, func(o Observation) bool {
			return o.KeyID == testKey && o.Status == 200 && len(o.UserAgent) == 512
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, ok := Parse(tt.line, at)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v: %+v", ok, tt.ok, o)
			}
			if ok && !tt.want(o) {
				t.Fatalf("observation %+v", o)
			}
		})
	}
}
