package localstack_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/flowella/apikeys/local/dynamotest"
	"github.com/flowella/apikeys/local/localiam"
	"github.com/flowella/apikeys/local/localsession"
	"github.com/flowella/apikeys/local/localstack"
	"github.com/flowella/apikeys/local/syncbuf"
	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/samtemplate"
	"github.com/flowella/apikeys/shared/session"
)

// withoutGrant returns a copy of the template in which fn's role lacks
// action in the statement whose Resource (as JSON) contains resource; the
// statement goes when it has no action left.
func withoutGrant(t *testing.T, fn, action, resource string) *samtemplate.Template {
	t.Helper()
	tpl, err := samtemplate.Load(dynamotest.TemplatePath(t))
	if err != nil {
		t.Fatal(err)
	}
	var props map[string]any
	if err := json.Unmarshal(tpl.Resources[fn].Properties, &props); err != nil {
		t.Fatal(err)
	}
	removed := false
	for _, p := range props["Policies"].([]any) {
		doc, ok := p.(map[string]any)
		if !ok || doc["Statement"] == nil {
			continue
		}
		kept := []any{} // a role left with no statement still has a Statement list
		for _, st := range doc["Statement"].([]any) {
			m := st.(map[string]any)
			res, _ := json.Marshal(m["Resource"])
			actions, _ := m["Action"].([]any)
			if !removed && strings.Contains(string(res), resource) && slices.Contains(actions, any(action)) {
				removed = true
				actions = slices.DeleteFunc(slices.Clone(actions), func(a any) bool { return a == action })
				if len(actions) == 0 {
					continue
				}
				m["Action"] = actions
			}
			kept = append(kept, m)
		}
		doc["Statement"] = kept
	}
	if !removed {
		t.Fatalf("%s has no statement allowing %s on %s", fn, action, resource)
	}
	b, err := json.Marshal(props)
	if err != nil {
		t.Fatal(err)
	}
	r := tpl.Resources[fn]
	r.Properties = b
	tpl.Resources[fn] = r
	return tpl
}

// TestIAMLayerBites removes one grant from a copy of template.yaml and shows
// the call it allowed now fails as it would in AWS: the function gets
// AccessDeniedException, the client a 500, and nothing is written.
func TestIAMLayerBites(t *testing.T) {
	for _, tc := range []struct {
		name             string
		fn               string
		action, resource string // the grant removed
		denied           string // the recorded denial
		request          func(c *iamClient, id string) int
	}{
		{
			// The key's Put and the organisation's count are one transaction:
			// AWS checks each item's action on its own table.
			name: "create without UpdateItem on the organisations table", fn: "CreateKeyFunction",
			action: "dynamodb:UpdateItem", resource: `["OrgsTable","Arn"]`, denied: "dynamodb:UpdateItem table/OrgsTable",
			request: func(c *iamClient, _ string) int {
				return c.do("POST", "/v1/api-keys", `{"label":"denied"}`)
			},
		},
		{
			// Issue 7, item 1: the revoke's transaction commits, then the
			// read-back is refused.
			name: "revoke without GetItem on the keys table", fn: "RevokeKeyFunction",
			action: "dynamodb:GetItem", resource: `["KeysTable","Arn"]`, denied: "dynamodb:GetItem table/KeysTable",
			request: func(c *iamClient, id string) int {
				return c.do("POST", "/v1/api-keys/"+id+"/revoke", `{}`)
			},
		},
		{
			name: "list without Query on the index", fn: "ListKeysFunction",
			action: "dynamodb:Query", resource: "/index/org-keys", denied: "dynamodb:Query table/KeysTable/index/org-keys",
			request: func(c *iamClient, _ string) int {
				return c.do("GET", "/v1/api-keys", "")
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newIAMClient(t, withoutGrant(t, tc.fn, tc.action, tc.resource))
			id := ""
			if tc.fn != "CreateKeyFunction" {
				id = c.createKey() // the rest of the role still works
			}
			before := c.keyItems()
			if status := tc.request(c, id); status != http.StatusInternalServerError {
				t.Errorf("status %d, want 500 (the function's DynamoDB call denied)", status)
			}
			var denials []string
			for _, call := range c.rec.Calls() {
				if !call.Allowed {
					_, res, _ := strings.Cut(call.Resource, ":table/")
					denials = append(denials, call.Function+" "+call.Action+" table/"+res)
				}
			}
			if want := tc.fn + " " + tc.denied; len(denials) != 1 || denials[0] != want {
				t.Errorf("denied calls %q, want [%q]", denials, want)
			}
			if !strings.Contains(c.logs.String(), "AccessDeniedException") {
				t.Errorf("the function's error log does not show AccessDeniedException:\n%s", c.logs.String())
			}
			if tc.fn == "CreateKeyFunction" && c.keyItems() != before {
				t.Errorf("a refused transaction wrote keys: %d before, %d after", before, c.keyItems())
			}
		})
	}
}

type iamClient struct {
	t      *testing.T
	srv    *httptest.Server
	db     *dynamodb.Client
	tables dynamotest.Tables
	token  string
	rec    *localiam.Recorder
	logs   *syncbuf.Buffer
}

func newIAMClient(t *testing.T, tpl *samtemplate.Template) *iamClient {
	t.Helper()
	db, tables := dynamotest.Setup(t)
	c := &iamClient{t: t, db: db, tables: tables, rec: localiam.NewRecorder(nil), logs: &syncbuf.Buffer{}}
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(c.logs, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	stack, err := localstack.Build(context.Background(), localstack.Config{
		Template:    tpl,
		DB:          db,
		TableName:   func(id string) string { return tables[id] },
		Parameters:  map[string]string{"SessionHS256Secret": testSecret},
		AccessLog:   io.Discard,
		Log:         slog.Default(),
		IAMRecorder: c.rec,
	})
	if err != nil {
		t.Fatal(err)
	}
	c.srv = httptest.NewServer(stack)
	t.Cleanup(c.srv.Close)
	if err := keystore.New(db, tables["KeysTable"], tables["OrgsTable"]).SetOrg(context.Background(), "org_a", "paid", nil); err != nil {
		t.Fatal(err)
	}
	c.token, err = localsession.IssueHS256(testSecret, session.Principal{UserID: "u_admin", OrgID: "org_a", Role: "admin"}, time.Hour, "", "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *iamClient) send(method, path, body string) (int, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.srv.URL+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func (c *iamClient) do(method, path, body string) int {
	status, _ := c.send(method, path, body)
	return status
}

func (c *iamClient) createKey() string {
	c.t.Helper()
	status, out := c.send("POST", "/v1/api-keys", `{"label":"iam"}`)
	if status != http.StatusCreated {
		c.t.Fatalf("create: %d %v", status, out)
	}
	return out["id"].(string)
}

func (c *iamClient) keyItems() int32 {
	c.t.Helper()
	out, err := c.db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(c.tables["KeysTable"]), Select: "COUNT"})
	if err != nil {
		c.t.Fatal(err)
	}
	return out.Count
}
