package samtemplate

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

func TestTemplateTables(t *testing.T) {
	tpl, err := Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tables, err := tpl.Tables(func(id string) string { return "x_" + id })
	if err != nil {
		t.Fatal(err)
	}
	keys, ok := tables["KeysTable"]
	if !ok || aws.ToString(keys.TableName) != "x_KeysTable" || keys.StreamSpecification == nil || len(keys.GlobalSecondaryIndexes) != 1 {
		t.Fatalf("keys table: %+v", keys)
	}
	if _, ok := tables["OrgsTable"]; !ok {
		t.Fatalf("tables: %v", tables)
	}
	fn, ok := tpl.Function("CreateKeyFunction")
	if !ok || fn.Environment.Variables["KEY_ENVIRONMENT"] == nil || fn.Events["Create"].Type != "Api" {
		t.Fatalf("function: %+v", fn)
	}
}

func TestTemplateRoutes(t *testing.T) {
	tpl, err := Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	routes, err := tpl.APIRoutes()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]APIRoute{}
	for _, r := range routes {
		found[r.Method+" "+r.Path] = r
	}
	r, ok := found["POST /v1/api-keys/{id}/revoke"]
	if !ok || r.Function != "RevokeKeyFunction" || r.Authorizer != "AuthorizerFunction" {
		t.Fatalf("revoke route: %+v", r)
	}
	if got := tpl.AuthorizerCacheTTL("FlowellaApi", "FlowellaAuthorizer"); got != 0 {
		t.Fatalf("authorizer cache TTL = %d, want 0: revocation must be immediate", got)
	}
	env, err := tpl.Environment("CreateKeyFunction", nil, func(id string) string { return "local-" + id })
	if err != nil {
		t.Fatal(err)
	}
	if env["KEYS_TABLE"] != "local-KeysTable" || env["KEY_ENVIRONMENT"] != "live" {
		t.Fatalf("env: %v", env)
	}
}
