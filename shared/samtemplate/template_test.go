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
