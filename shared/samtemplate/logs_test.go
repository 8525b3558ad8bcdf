package samtemplate

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// Key activity's wiring: the access log and the authorizer's log each
// subscribed to the activity function, which CloudWatch Logs may invoke for
// that group only; only that function writes the activity table.
func TestKeyActivityWiring(t *testing.T) {
	tpl, err := Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	subs, err := tpl.LogSubscriptions()
	if err != nil {
		t.Fatal(err)
	}
	groups := map[string]string{}
	for _, s := range subs {
		groups[s.LogGroup] = s.Function
	}
	access, auth := tpl.AccessLogGroup("FlowellaApi"), tpl.FunctionLogGroup("AuthorizerFunction")
	if access == "" || auth == "" || groups[access] != "KeyActivityFunction" || groups[auth] != "KeyActivityFunction" || len(subs) != 2 {
		t.Fatalf("subscriptions %+v; access log group %q, authorizer's %q", subs, access, auth)
	}
	permitted := map[string]bool{}
	for id, r := range tpl.Resources {
		if r.Type != "AWS::Lambda::Permission" {
			continue
		}
		var p struct {
			Action, Principal string
			FunctionName      map[string]any
			SourceArn         map[string]any
		}
		if err := json.Unmarshal(r.Properties, &p); err != nil {
			t.Fatal(err)
		}
		if p.Action == "lambda:InvokeFunction" && p.Principal == "logs.amazonaws.com" && getAttArn(p.FunctionName) == "KeyActivityFunction" {
			permitted[getAttArn(p.SourceArn)] = true
		} else {
			t.Errorf("permission %s: %+v", id, p)
		}
	}
	if !permitted[access] || !permitted[auth] || len(permitted) != 2 {
		t.Fatalf("CloudWatch Logs may invoke the activity function for %v, want %s and %s", permitted, access, auth)
	}
	for fn, actions := range statements(t, tpl) {
		for action, resources := range actions {
			for _, r := range resources {
				if !strings.Contains(r, "ActivityTable") {
					continue
				}
				write := action != "dynamodb:Query" && action != "dynamodb:GetItem"
				reader := slices.Contains([]string{"ListKeyActivityFunction", "GetKeyUsageFunction", "GetKeyExposureFunction"}, fn)
				if fn != "KeyActivityFunction" && (write || !reader || action != "dynamodb:Query") {
					t.Errorf("%s may %s activity records", fn, action)
				}
			}
		}
	}
}
