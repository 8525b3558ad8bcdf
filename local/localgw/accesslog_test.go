package localgw

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// The access log is filled from a format split once; each line must be
// what matching the format on every request gave, escaping included.
func TestAccessLogRenderMatchesTheFormatFilledByMatching(t *testing.T) {
	format := `{"requestId":"$context.requestId", "ip": "$context.identity.sourceIp","ua":"$context.identity.userAgent",` +
		`"key":"$context.authorizer.key_id","none":"$context.error.message"} $context.status`
	vars := map[string]string{
		"requestId":          "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
		"identity.sourceIp":  "203.0.113.7",
		"identity.userAgent": "curl/8.5.0 \"quoted\" <b>&\\ \t\u2028 é \xff",
		"authorizer.key_id":  "",
		"status":             "200",
	}
	// What the gateway did before: a regexp replacement on every request.
	want := regexp.MustCompile(`\$context\.[A-Za-z0-9_.]+`).ReplaceAllStringFunc(format, func(v string) string {
		val := vars[strings.TrimPrefix(v, "$context.")]
		if val == "" {
			return "-"
		}
		b, _ := json.Marshal(val)
		return string(b[1 : len(b)-1])
	})
	e := &accessEntry{vars: vars}
	if got := string(e.render(compileLogFormat(format))); got != want {
		t.Fatalf("render:\n got %s\nwant %s", got, want)
	}
	for _, f := range []string{"", "plain text", "$context.status", "$context.status$context.status"} {
		var got strings.Builder
		for _, p := range compileLogFormat(f) {
			got.WriteString(p.literal)
			if p.variable != "" {
				got.WriteString("$context." + p.variable)
			}
		}
		if got.String() != f {
			t.Errorf("compileLogFormat(%q) does not give the format back: %q", f, got.String())
		}
	}
}
