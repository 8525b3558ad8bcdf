package samtemplate

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

type policyStatement struct {
	Effect   string
	Action   any
	Resource any
}

// statements returns, per function, each allowed action with the resources
// (as JSON text) it applies to: the statements of its Policies, or of the
// AWS::IAM::Role its Role names.
func statements(t *testing.T, tpl *Template) map[string]map[string][]string {
	t.Helper()
	out := map[string]map[string][]string{}
	for _, fn := range tpl.Functions() {
		var props struct {
			Role     map[string][]string
			Policies []struct {
				Statement []policyStatement
			}
		}
		if err := json.Unmarshal(tpl.Resources[fn].Properties, &props); err != nil {
			t.Fatal(err)
		}
		if role := props.Role["Fn::GetAtt"]; len(role) == 2 {
			var roleProps struct {
				Policies []struct {
					PolicyDocument struct{ Statement []policyStatement }
				}
			}
			if err := json.Unmarshal(tpl.Resources[role[0]].Properties, &roleProps); err != nil {
				t.Fatal(err)
			}
			for _, p := range roleProps.Policies {
				props.Policies = append(props.Policies, struct{ Statement []policyStatement }{p.PolicyDocument.Statement})
			}
		}
		out[fn] = map[string][]string{}
		for _, p := range props.Policies {
			for _, st := range p.Statement {
				res, _ := json.Marshal(st.Resource)
				var actions []string
				switch a := st.Action.(type) {
				case string:
					actions = []string{a}
				case []any:
					for _, x := range a {
						actions = append(actions, fmt.Sprint(x))
					}
				}
				for _, a := range actions {
					out[fn][a] = append(out[fn][a], string(res))
				}
			}
		}
	}
	return out
}

func TestLeastPrivilege(t *testing.T) {
	tpl, err := Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	perms := statements(t, tpl)
	for fn, actions := range perms {
		for action, resources := range actions {
			if strings.Contains(action, "*") {
				t.Errorf("%s is allowed %s", fn, action)
			}
			for _, r := range resources {
				// X-Ray's write actions take no resource ARN.
				if r == `"*"` && action != "xray:PutTraceSegments" && action != "xray:PutTelemetryRecords" {
					t.Errorf("%s: %s on every resource", fn, action)
				}
				if strings.Contains(r, "AuditTable") && fn != "AuditFunction" && !(fn == "ListAuditEventsFunction" && action == "dynamodb:Query") {
					t.Errorf("%s may %s audit records", fn, action)
				}
			}
		}
	}
	// Only the audit function writes audit records, and it touches nothing
	// else but its stream and dead-letter queue.
	audit := perms["AuditFunction"]
	for action, resources := range audit {
		for _, r := range resources {
			if strings.Contains(r, "KeysTable") && !strings.Contains(r, "StreamArn") || strings.Contains(r, "OrgsTable") {
				t.Errorf("AuditFunction may %s on %s", action, r)
			}
		}
	}
	if !slices.Contains(audit["dynamodb:PutItem"], `{"Fn::GetAtt":["AuditTable","Arn"]}`) {
		t.Errorf("AuditFunction cannot write audit records: %v", audit)
	}
	// The authorizer reads keys and plans and writes last-used; nothing else.
	var got []string
	for a := range perms["AuthorizerFunction"] {
		got = append(got, a)
	}
	slices.Sort(got)
	if strings.Join(got, ",") != "dynamodb:GetItem,dynamodb:UpdateItem" {
		t.Errorf("authorizer actions %v", got)
	}
	if len(perms["WhoamiFunction"]) != 0 {
		t.Errorf("whoami needs no table access: %v", perms["WhoamiFunction"])
	}
	// Idempotency-Key records: only create and roll read and write them, and
	// only with GetItem and PutItem.
	idem := `{"Fn::GetAtt":["IdempotencyTable","Arn"]}`
	for fn, actions := range perms {
		for action, resources := range actions {
			for _, r := range resources {
				if strings.Contains(r, "IdempotencyTable") && (fn != "CreateKeyFunction" && fn != "RollKeyFunction" ||
					action != "dynamodb:GetItem" && action != "dynamodb:PutItem") {
					t.Errorf("%s may %s idempotency records", fn, action)
				}
			}
		}
	}
	for _, fn := range []string{"CreateKeyFunction", "RollKeyFunction"} {
		for _, action := range []string{"dynamodb:GetItem", "dynamodb:PutItem"} {
			if !slices.Contains(perms[fn][action], idem) {
				t.Errorf("%s cannot %s idempotency records", fn, action)
			}
		}
	}
}
