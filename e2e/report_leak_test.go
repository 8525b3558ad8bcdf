package e2e

import (
	"strings"
	"testing"
)

// make report-leak reports a key to make run as GitHub's secret scanning
// would, signed with the local test key that make run publishes: the key is
// revoked at once, and the audit log says by whom and where it was found.
func TestReportLeakRevokesAKeyOfMakeRun(t *testing.T) {
	port := freePort(t)
	env := []string{"PORT=" + itoa(port), "FLOWELLA_DATA_DIR=" + t.TempDir(),
		"SESSION_HS256_SECRET=e2e-secret-0123456789abcdef0123456789"}
	s := startStack(t, env, port)
	token := makeOutput(t, env, "token", "ORG=org_demo", "USER=u_e2e", "ROLE=admin")
	created := call(t, "POST", s.base+"/v1/api-keys", token, map[string]any{"label": "pushed by mistake"})
	if created.status != 201 {
		t.Fatalf("create: %d %s", created.status, created.raw)
	}
	id, secret := created.body["id"].(string), created.body["secret"].(string)

	out := makeOutput(t, env, "report-leak", "KEY="+secret, "LEAK_URL=https://github.com/octo-org/app/blob/main/.env")
	if !strings.Contains(out, `"label":"true_positive"`) || strings.Contains(out, secret[16:]) {
		t.Fatalf("make report-leak printed:\n%s", out)
	}
	if r := call(t, "GET", s.base+"/v1/whoami", secret, nil); r.status != 401 {
		t.Fatalf("whoami after the report: %d %s", r.status, r.raw)
	}
	k := call(t, "GET", s.base+"/v1/api-keys/"+id, token, nil)
	if k.body["revoke_reason"] != "exposed" || k.body["exposure_url"] != "https://github.com/octo-org/app/blob/main/.env" {
		t.Fatalf("key after the report: %s", k.raw)
	}
	// Not a key of this stack: nothing happens.
	if out := makeOutput(t, env, "report-leak", "KEY=flwl_test_notakey"); !strings.Contains(out, `"label":"false_positive"`) {
		t.Fatalf("make report-leak of a look-alike printed:\n%s", out)
	}
}
