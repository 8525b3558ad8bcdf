package samtemplate

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// statements returns, per function, each allowed action with the resources
// (as JSON text) it applies to.
func statements(t *testing.T, tpl *Template) map[string]map[string][]string {
	t.Helper()
	out := map[string]map[string][]string{}
	for _, fn := range tpl.Functions() {
		var props struct {
			Policies []struct {
				Statement []struct {
					Effect   string
					Action   any
					Resource any
				}
			}
		}
		if err := json.Unmarshal(tpl.Resources[fn].Properties, &props); err != nil {
			t.Fatal(err)
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
				if r == `"*"` {
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
}
