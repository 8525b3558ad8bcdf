package localiam

import (
	"strings"
	"testing"
)

const (
	keysArn  = "arn:aws:dynamodb:us-east-1:123456789012:table/Keys"
	orgsArn  = "arn:aws:dynamodb:us-east-1:123456789012:table/Orgs"
	indexArn = keysArn + "/index/org-keys"
)

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"*", "anything", true},
		{"dynamodb:Get*", "dynamodb:GetItem", true},
		{"dynamodb:Get*", "dynamodb:BatchGetItem", false},
		{"dynamodb:*Item", "dynamodb:PutItem", true},
		{"dynamodb:?etItem", "dynamodb:GetItem", true},
		{"dynamodb:?etItem", "dynamodb:GettItem", false},
		{keysArn, keysArn, true},
		{keysArn, indexArn, false},
		{keysArn + "/index/*", indexArn, true},
		{keysArn + "*", indexArn, true},
		{"arn:aws:dynamodb:*:*:table/Keys", keysArn, true},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"**", "x", true},
	} {
		if got := Match(tc.pattern, tc.s); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

// policy parses statements written as the template writes them.
func policy(t *testing.T, stmts ...map[string]any) Policy {
	t.Helper()
	list := make([]any, len(stmts))
	for i, s := range stmts {
		list[i] = s
	}
	st, err := parseStatements(list, nil)
	if err != nil {
		t.Fatal(err)
	}
	return Policy{Statements: st}
}

func TestEvaluate(t *testing.T) {
	allowGetPut := map[string]any{"Effect": "Allow", "Action": []any{"dynamodb:GetItem", "dynamodb:PutItem"}, "Resource": keysArn}
	for _, tc := range []struct {
		name   string
		policy []map[string]any
		req    Request
		want   Decision
	}{
		{"allowed action and resource", []map[string]any{allowGetPut},
			Request{Action: "dynamodb:GetItem", Resource: keysArn}, Allowed},
		{"action names are case-insensitive", []map[string]any{allowGetPut},
			Request{Action: "DynamoDB:getitem", Resource: keysArn}, Allowed},
		{"other action", []map[string]any{allowGetPut},
			Request{Action: "dynamodb:UpdateItem", Resource: keysArn}, ImplicitDeny},
		{"other table", []map[string]any{allowGetPut},
			Request{Action: "dynamodb:GetItem", Resource: orgsArn}, ImplicitDeny},
		{"the table's grant does not cover its index", []map[string]any{
			{"Effect": "Allow", "Action": "dynamodb:Query", "Resource": keysArn}},
			Request{Action: "dynamodb:Query", Resource: indexArn}, ImplicitDeny},
		{"the index's grant does not cover its table", []map[string]any{
			{"Effect": "Allow", "Action": "dynamodb:Query", "Resource": indexArn}},
			Request{Action: "dynamodb:Query", Resource: keysArn}, ImplicitDeny},
		{"action wildcard", []map[string]any{
			{"Effect": "Allow", "Action": "dynamodb:Get*", "Resource": "*"}},
			Request{Action: "dynamodb:GetRecords", Resource: orgsArn}, Allowed},
		{"resource wildcard", []map[string]any{
			{"Effect": "Allow", "Action": "dynamodb:Query", "Resource": keysArn + "/index/*"}},
			Request{Action: "dynamodb:Query", Resource: indexArn}, Allowed},
		{"explicit deny wins", []map[string]any{
			{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
			{"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": keysArn}},
			Request{Action: "dynamodb:DeleteItem", Resource: keysArn}, ExplicitDeny},
		{"a deny elsewhere leaves the allow", []map[string]any{
			{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
			{"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": keysArn}},
			Request{Action: "dynamodb:DeleteItem", Resource: orgsArn}, Allowed},
		{"NotAction", []map[string]any{
			{"Effect": "Allow", "NotAction": "dynamodb:Delete*", "Resource": keysArn}},
			Request{Action: "dynamodb:DeleteItem", Resource: keysArn}, ImplicitDeny},
		{"NotResource", []map[string]any{
			{"Effect": "Allow", "Action": "dynamodb:GetItem", "NotResource": orgsArn}},
			Request{Action: "dynamodb:GetItem", Resource: keysArn}, Allowed},
		{"no statements", nil, Request{Action: "dynamodb:GetItem", Resource: keysArn}, ImplicitDeny},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := policy(t, tc.policy...).Evaluate(tc.req); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestConditions(t *testing.T) {
	onlyLastUsed := map[string]any{
		"Effect": "Allow", "Action": "dynamodb:UpdateItem", "Resource": keysArn,
		"Condition": map[string]any{
			"ForAllValues:StringEquals": map[string]any{"dynamodb:Attributes": []any{"key_hash", "last_used_at", "last_change"}},
			"StringEqualsIfExists":      map[string]any{"dynamodb:ReturnValues": []any{"NONE"}},
		},
	}
	ownOrg := map[string]any{
		"Effect": "Allow", "Action": []any{"dynamodb:GetItem", "dynamodb:Query"}, "Resource": []any{orgsArn, keysArn + "/index/*"},
		"Condition": map[string]any{"ForAllValues:StringLike": map[string]any{"dynamodb:LeadingKeys": "org_a*"}},
	}
	anyPrefix := map[string]any{
		"Effect": "Allow", "Action": "dynamodb:Query", "Resource": "*",
		"Condition": map[string]any{
			"ForAnyValue:StringEquals": map[string]any{"dynamodb:EnclosingOperation": "TransactGetItems"},
			"StringEquals":             map[string]any{"dynamodb:Select": []any{"COUNT", "SPECIFIC_ATTRIBUTES"}},
		},
	}
	notAll := map[string]any{
		"Effect": "Allow", "Action": "dynamodb:Query", "Resource": "*",
		"Condition": map[string]any{"StringNotEquals": map[string]any{"dynamodb:Select": "ALL_ATTRIBUTES"}},
	}
	update := func(ctx map[string][]string) Request {
		return Request{Action: "dynamodb:UpdateItem", Resource: keysArn, Context: ctx}
	}
	for _, tc := range []struct {
		name string
		stmt map[string]any
		req  Request
		want Decision
	}{
		{"attributes within the list", onlyLastUsed,
			update(map[string][]string{"dynamodb:Attributes": {"key_hash", "last_used_at"}}), Allowed},
		{"an attribute outside the list", onlyLastUsed,
			update(map[string][]string{"dynamodb:Attributes": {"key_hash", "last_used_at", "status"}}), ImplicitDeny},
		{"ForAllValues holds for an absent key", onlyLastUsed, update(nil), Allowed},
		{"IfExists with the key present and matching", onlyLastUsed,
			update(map[string][]string{"dynamodb:Attributes": {"key_hash"}, "dynamodb:ReturnValues": {"NONE"}}), Allowed},
		{"IfExists with the key present and not matching", onlyLastUsed,
			update(map[string][]string{"dynamodb:Attributes": {"key_hash"}, "dynamodb:ReturnValues": {"ALL_NEW"}}), ImplicitDeny},
		{"leading key like the pattern", ownOrg,
			Request{Action: "dynamodb:GetItem", Resource: orgsArn, Context: map[string][]string{"dynamodb:LeadingKeys": {"org_a"}}}, Allowed},
		{"leading key of another org", ownOrg,
			Request{Action: "dynamodb:Query", Resource: indexArn, Context: map[string][]string{"dynamodb:LeadingKeys": {"org_b"}}}, ImplicitDeny},
		{"ForAnyValue needs a value", anyPrefix,
			Request{Action: "dynamodb:Query", Resource: keysArn, Context: map[string][]string{"dynamodb:Select": {"COUNT"}}}, ImplicitDeny},
		{"ForAnyValue and StringEquals both hold", anyPrefix,
			Request{Action: "dynamodb:Query", Resource: keysArn, Context: map[string][]string{
				"dynamodb:Select": {"COUNT"}, "dynamodb:EnclosingOperation": {"TransactGetItems"}}}, Allowed},
		{"StringEquals on an absent key fails", anyPrefix,
			Request{Action: "dynamodb:Query", Resource: keysArn, Context: map[string][]string{
				"dynamodb:EnclosingOperation": {"TransactGetItems"}}}, ImplicitDeny},
		{"StringNotEquals on an absent key holds", notAll,
			Request{Action: "dynamodb:Query", Resource: keysArn}, Allowed},
		{"StringNotEquals on the value it excludes", notAll,
			Request{Action: "dynamodb:Query", Resource: keysArn, Context: map[string][]string{"dynamodb:Select": {"ALL_ATTRIBUTES"}}}, ImplicitDeny},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := policy(t, tc.stmt).Evaluate(tc.req); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestUnsupportedPolicyElementsAreRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		stmt map[string]any
		want string
	}{
		{"unknown operator", map[string]any{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*",
			"Condition": map[string]any{"DateGreaterThan": map[string]any{"aws:CurrentTime": "2020-01-01T00:00:00Z"}}}, "not implemented"},
		{"unknown key", map[string]any{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*",
			"Condition": map[string]any{"StringEquals": map[string]any{"aws:SourceVpc": "vpc-1"}}}, "not implemented"},
		{"single-valued operator on a multivalued key", map[string]any{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*",
			"Condition": map[string]any{"StringEquals": map[string]any{"dynamodb:LeadingKeys": "org_a"}}}, "multivalued"},
		{"principal", map[string]any{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*", "Principal": "*"}, "not supported"},
		{"no resource", map[string]any{"Effect": "Allow", "Action": "dynamodb:GetItem"}, "Resource"},
		{"bad effect", map[string]any{"Effect": "Maybe", "Action": "dynamodb:GetItem", "Resource": "*"}, "Effect"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseStatements([]any{tc.stmt}, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}
