package localiam

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/smithy-go"

	"github.com/flowella/apikeys/shared/samtemplate"
)

func TestTopNames(t *testing.T) {
	names := map[string]string{"#0": "last_used_at", "#1": "last_change", "#2": "key_hash", "#3": "doc", "#4": "inner"}
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{"SET #0 = :0\nREMOVE #1", []string{"last_change", "last_used_at"}},
		{"(attribute_exists (#2)) AND ((attribute_not_exists (#0)) OR (#0 < :1))", []string{"key_hash", "last_used_at"}},
		{"SET #3.#4 = :v, plain = if_not_exists(other, :z) ADD counter :one", []string{"counter", "doc", "other", "plain"}},
		{"SET list[2].x = :v", []string{"list"}},
		{"size(#3) > :n AND begins_with(name, :p)", []string{"doc", "name"}},
		{"a, b.c, d[0]", []string{"a", "b", "d"}},
	} {
		set := map[string]bool{}
		topNames(set, &tc.expr, names)
		if got := sortedKeys(set); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: %v, want %v", tc.expr, got, tc.want)
		}
	}
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func TestDynamoChecks(t *testing.T) {
	b := &requestBuilder{region: "eu-west-1", tables: map[string]tableInfo{
		"t_Keys": {logical: "KeysTable", hashKey: "key_hash", indexKey: map[string]string{"org-keys": "org_id"}},
		"t_Orgs": {logical: "OrgsTable", hashKey: "org_id"},
	}}
	arn := func(rest string) string { return "arn:aws:dynamodb:eu-west-1:123456789012:table/" + rest }
	upd, _ := expression.NewBuilder().WithUpdate(expression.Set(expression.Name("status"), expression.Value("revoked"))).
		WithCondition(expression.Name("org_id").Equal(expression.Value("org_a"))).Build()
	kc, _ := expression.NewBuilder().WithKeyCondition(expression.Key("org_id").Equal(expression.Value("org_a")).
		And(expression.Key("key_id").Equal(expression.Value("key_1")))).Build()
	type want struct {
		action, resource string
		ctx              map[string][]string
	}
	for _, tc := range []struct {
		name  string
		input any
		want  []want
	}{
		{"GetItem", &dynamodb.GetItemInput{TableName: aws.String("t_Keys"), Key: map[string]types.AttributeValue{"key_hash": s("h1")}},
			[]want{{"dynamodb:GetItem", arn("t_Keys"), map[string][]string{"dynamodb:Attributes": {"key_hash"}, "dynamodb:LeadingKeys": {"h1"}}}}},
		{"Query on an index", &dynamodb.QueryInput{TableName: aws.String("t_Keys"), IndexName: aws.String("org-keys"),
			KeyConditionExpression: kc.KeyCondition(), ExpressionAttributeNames: kc.Names(), ExpressionAttributeValues: kc.Values(), Select: types.SelectCount},
			[]want{{"dynamodb:Query", arn("t_Keys/index/org-keys"), map[string][]string{
				"dynamodb:Attributes": {"key_id", "org_id"}, "dynamodb:LeadingKeys": {"org_a"}, "dynamodb:Select": {"COUNT"}}}}},
		{"UpdateItem", &dynamodb.UpdateItemInput{TableName: aws.String("t_Keys"), Key: map[string]types.AttributeValue{"key_hash": s("h1")},
			UpdateExpression: upd.Update(), ConditionExpression: upd.Condition(), ExpressionAttributeNames: upd.Names(),
			ExpressionAttributeValues: upd.Values(), ReturnValues: types.ReturnValueAllNew},
			[]want{{"dynamodb:UpdateItem", arn("t_Keys"), map[string][]string{"dynamodb:Attributes": {"key_hash", "org_id", "status"},
				"dynamodb:LeadingKeys": {"h1"}, "dynamodb:ReturnValues": {"ALL_NEW"}}}}},
		{"TransactWriteItems checks each item's action on its table", &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: aws.String("t_Keys"), Item: map[string]types.AttributeValue{"key_hash": s("h2"), "org_id": s("org_a")}}},
			{Update: &types.Update{TableName: aws.String("t_Orgs"), Key: map[string]types.AttributeValue{"org_id": s("org_a")},
				UpdateExpression: aws.String("ADD #n :one"), ExpressionAttributeNames: map[string]string{"#n": "active_keys"}}},
			{ConditionCheck: &types.ConditionCheck{TableName: aws.String("t_Orgs"), Key: map[string]types.AttributeValue{"org_id": s("org_b")},
				ConditionExpression: aws.String("attribute_exists(org_id)")}},
			{Delete: &types.Delete{TableName: aws.String("t_Keys"), Key: map[string]types.AttributeValue{"key_hash": s("h3")}}},
		}},
			[]want{
				{"dynamodb:PutItem", arn("t_Keys"), map[string][]string{"dynamodb:Attributes": {"key_hash", "org_id"},
					"dynamodb:LeadingKeys": {"h2"}, "dynamodb:EnclosingOperation": {"TransactWriteItems"}}},
				{"dynamodb:UpdateItem", arn("t_Orgs"), map[string][]string{"dynamodb:Attributes": {"active_keys", "org_id"},
					"dynamodb:LeadingKeys": {"org_a"}, "dynamodb:EnclosingOperation": {"TransactWriteItems"}}},
				{"dynamodb:ConditionCheckItem", arn("t_Orgs"), map[string][]string{"dynamodb:Attributes": {"org_id"},
					"dynamodb:LeadingKeys": {"org_b"}, "dynamodb:EnclosingOperation": {"TransactWriteItems"}}},
				{"dynamodb:DeleteItem", arn("t_Keys"), map[string][]string{"dynamodb:Attributes": {"key_hash"},
					"dynamodb:LeadingKeys": {"h3"}, "dynamodb:EnclosingOperation": {"TransactWriteItems"}}},
			}},
		{"TransactGetItems checks GetItem per item", &dynamodb.TransactGetItemsInput{TransactItems: []types.TransactGetItem{
			{Get: &types.Get{TableName: aws.String("t_Orgs"), Key: map[string]types.AttributeValue{"org_id": s("org_a")}}},
		}},
			[]want{{"dynamodb:GetItem", arn("t_Orgs"), map[string][]string{"dynamodb:Attributes": {"org_id"},
				"dynamodb:LeadingKeys": {"org_a"}, "dynamodb:EnclosingOperation": {"TransactGetItems"}}}}},
		{"BatchWriteItem checks its own action per item and table", &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{
			"t_Orgs": {{DeleteRequest: &types.DeleteRequest{Key: map[string]types.AttributeValue{"org_id": s("org_x")}}}},
			"t_Keys": {{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{"key_hash": s("h4")}}}},
		}},
			[]want{
				{"dynamodb:BatchWriteItem", arn("t_Keys"), map[string][]string{"dynamodb:Attributes": {"key_hash"}, "dynamodb:LeadingKeys": {"h4"}}},
				{"dynamodb:BatchWriteItem", arn("t_Orgs"), map[string][]string{"dynamodb:Attributes": {"org_id"}, "dynamodb:LeadingKeys": {"org_x"}}},
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := b.dynamoChecks(tc.input)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("%d checks, want %d: %+v", len(got), len(tc.want), got)
			}
			for i, w := range tc.want {
				g := got[i]
				if g.Action != w.action || g.Resource != w.resource || !reflect.DeepEqual(g.Context, w.ctx) {
					t.Errorf("check %d: %s %s %v\nwant %s %s %v", i, g.Action, g.Resource, g.Context, w.action, w.resource, w.ctx)
				}
			}
		})
	}
	if _, err := b.dynamoChecks(&dynamodb.CreateBackupInput{}); err == nil {
		t.Error("an operation without a mapping must be an error, not allowed")
	}
}

const testTemplate = `
Parameters:
  Stage: {Type: String, Default: dev}
  ArchiveName: {Type: String, Default: "ssm:/flowella/archive"}
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
  InSSM: !Equals [!Select [0, !Split [":", !Ref ArchiveName]], ssm]
Resources:
  KeysTable:
    Type: AWS::DynamoDB::Table
    Properties:
      KeySchema: [{AttributeName: key_hash, KeyType: HASH}]
      GlobalSecondaryIndexes:
        - IndexName: org-keys
          KeySchema: [{AttributeName: org_id, KeyType: HASH}, {AttributeName: key_id, KeyType: RANGE}]
          Projection: {ProjectionType: ALL}
      StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES}
  OrgsTable:
    Type: AWS::DynamoDB::Table
    Properties:
      KeySchema: [{AttributeName: org_id, KeyType: HASH}]
  Queue:
    Type: AWS::SQS::Queue
  ReaderFunction:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement:
            - Effect: Allow
              Action: [dynamodb:Query]
              Resource: !Sub "${KeysTable.Arn}/index/org-keys"
            - Effect: Allow
              Action: dynamodb:GetItem
              Resource: [!GetAtt OrgsTable.Arn, !Sub "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${KeysTable}"]
            - Effect: Allow
              Action: dynamodb:UpdateItem
              Resource: !GetAtt KeysTable.Arn
              Condition:
                ForAllValues:StringEquals:
                  dynamodb:Attributes: [key_hash, last_used_at]
        - !If
          - IsProd
          - Statement:
              - Effect: Allow
                Action: dynamodb:DeleteItem
                Resource: !GetAtt KeysTable.Arn
          - !Ref AWS::NoValue
        - !If
          - InSSM
          - Statement:
              - Effect: Allow
                Action: dynamodb:Scan
                Resource: !Sub
                  - "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${Name}"
                  - Name: !Ref OrgsTable
          - !Ref AWS::NoValue
  StreamFunction:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        S:
          Type: DynamoDB
          Properties: {Stream: !GetAtt KeysTable.StreamArn}
  OwnRoleFunction:
    Type: AWS::Serverless::Function
    Properties:
      Role: !GetAtt OwnRole.Arn
  OwnRole:
    Type: AWS::IAM::Role
    Properties:
      ManagedPolicyArns: [!Sub "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]
      Policies:
        - PolicyName: stream
          PolicyDocument:
            Statement:
              - Effect: Allow
                Action: [dynamodb:GetRecords]
                Resource: !GetAtt KeysTable.StreamArn
              - Effect: Allow
                Action: [sqs:SendMessage]
                Resource: !GetAtt Queue.Arn
`

func loadTestTemplate(t *testing.T, text string) *samtemplate.Template {
	t.Helper()
	tpl, err := samtemplate.Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

func local(id string) string { return "t_" + id }

func TestRolesFromTemplate(t *testing.T) {
	roles, err := Roles(loadTestTemplate(t, testTemplate), Env{Region: "eu-west-1", TableName: local})
	if err != nil {
		t.Fatal(err)
	}
	prod, err := Roles(loadTestTemplate(t, testTemplate), Env{Region: "eu-west-1", TableName: local,
		Parameters: map[string]string{"Stage": "prod", "ArchiveName": "secretsmanager:archive"}})
	if err != nil {
		t.Fatal(err)
	}
	arn := func(rest string) string { return "arn:aws:dynamodb:eu-west-1:123456789012:table/" + rest }
	for _, tc := range []struct {
		fn   string
		req  Request
		want Decision
	}{
		{"ReaderFunction", Request{Action: "dynamodb:Query", Resource: arn("t_KeysTable/index/org-keys")}, Allowed},
		{"ReaderFunction", Request{Action: "dynamodb:Query", Resource: arn("t_KeysTable")}, ImplicitDeny},
		{"ReaderFunction", Request{Action: "dynamodb:GetItem", Resource: arn("t_KeysTable")}, Allowed},
		{"ReaderFunction", Request{Action: "dynamodb:GetItem", Resource: arn("t_OrgsTable")}, Allowed},
		{"ReaderFunction", Request{Action: "dynamodb:UpdateItem", Resource: arn("t_KeysTable"),
			Context: map[string][]string{"dynamodb:Attributes": {"key_hash", "last_used_at"}}}, Allowed},
		{"ReaderFunction", Request{Action: "dynamodb:UpdateItem", Resource: arn("t_KeysTable"),
			Context: map[string][]string{"dynamodb:Attributes": {"key_hash", "status"}}}, ImplicitDeny},
		// SAM attaches AWSLambdaDynamoDBExecutionRole for a DynamoDB event:
		// stream reads on every stream.
		{"StreamFunction", Request{Action: "dynamodb:GetRecords", Resource: arn("t_OrgsTable/stream/2024")}, Allowed},
		{"StreamFunction", Request{Action: "dynamodb:GetItem", Resource: arn("t_OrgsTable")}, ImplicitDeny},
		{"OwnRoleFunction", Request{Action: "dynamodb:GetRecords", Resource: arn("t_KeysTable/stream/2024-01-01T00:00:00.000")}, Allowed},
		{"OwnRoleFunction", Request{Action: "dynamodb:GetRecords", Resource: arn("t_OrgsTable/stream/2024-01-01T00:00:00.000")}, ImplicitDeny},
		// Policies under !If follow the template's conditions.
		{"ReaderFunction", Request{Action: "dynamodb:DeleteItem", Resource: arn("t_KeysTable")}, ImplicitDeny},
		{"ReaderFunction", Request{Action: "dynamodb:Scan", Resource: arn("t_OrgsTable")}, Allowed},
	} {
		if got := roles[tc.fn].Policy.Evaluate(tc.req); got != tc.want {
			t.Errorf("%s %s %s: %v, want %v", tc.fn, tc.req.Action, tc.req.Resource, got, tc.want)
		}
	}
	if got := prod["ReaderFunction"].Policy.Evaluate(Request{Action: "dynamodb:DeleteItem", Resource: arn("t_KeysTable")}); got != Allowed {
		t.Errorf("prod: DeleteItem %v, want allowed", got)
	}
	if got := prod["ReaderFunction"].Policy.Evaluate(Request{Action: "dynamodb:Scan", Resource: arn("t_OrgsTable")}); got != ImplicitDeny {
		t.Errorf("secret in Secrets Manager: Scan %v, want implicit deny", got)
	}
}

func TestRolesRefuseWhatTheyCannotEvaluate(t *testing.T) {
	for name, fn := range map[string]string{
		"SAM policy template": `
      Policies:
        - DynamoDBCrudPolicy: {TableName: !Ref KeysTable}`,
		"unknown managed policy": `
      Policies: [AmazonDynamoDBFullAccess]`,
		"unknown condition key": `
      Policies:
        - Statement:
            - Effect: Allow
              Action: dynamodb:GetItem
              Resource: "*"
              Condition: {IpAddress: {aws:SourceIp: 10.0.0.0/8}}`,
	} {
		t.Run(name, func(t *testing.T) {
			text := `
Resources:
  KeysTable:
    Type: AWS::DynamoDB::Table
    Properties:
      KeySchema: [{AttributeName: key_hash, KeyType: HASH}]
  F:
    Type: AWS::Serverless::Function
    Properties:` + fn + "\n"
			if _, err := Roles(loadTestTemplate(t, text), Env{TableName: local}); err == nil {
				t.Error("loaded; want an error")
			}
		})
	}
}

// fakeDynamo answers every request with an empty JSON object and counts them.
type fakeDynamo struct{ calls atomic.Int64 }

func (f *fakeDynamo) Do(*http.Request) (*http.Response, error) {
	f.calls.Add(1)
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/x-amz-json-1.0"}},
		Body: io.NopCloser(strings.NewReader("{}"))}, nil
}

func TestMiddleware(t *testing.T) {
	rec := NewRecorder(nil)
	e, err := New(loadTestTemplate(t, testTemplate), Env{TableName: local}, rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	http := &fakeDynamo{}
	base := dynamodb.New(dynamodb.Options{Region: "us-east-1", HTTPClient: http, BaseEndpoint: aws.String("http://127.0.0.1:1"),
		Credentials: aws.AnonymousCredentials{}})
	db := dynamodb.New(base.Options(), e.DynamoDB("ReaderFunction"))
	ctx := context.Background()

	if _, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("t_OrgsTable"),
		Key: map[string]types.AttributeValue{"org_id": s("org_a")}}); err != nil {
		t.Fatalf("allowed GetItem: %v", err)
	}
	_, err = db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("t_OrgsTable"),
		Item: map[string]types.AttributeValue{"org_id": s("org_a")}})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "AccessDeniedException" {
		t.Fatalf("denied PutItem: %v", err)
	}
	wantMsg := "User: arn:aws:sts::123456789012:assumed-role/ReaderFunctionRole/ReaderFunction is not authorized to perform: " +
		"dynamodb:PutItem on resource: arn:aws:dynamodb:us-east-1:123456789012:table/t_OrgsTable " +
		"because no identity-based policy allows the dynamodb:PutItem action"
	if apiErr.ErrorMessage() != wantMsg {
		t.Errorf("message\n%s\nwant\n%s", apiErr.ErrorMessage(), wantMsg)
	}
	// The shared client is not held to the role.
	if _, err := base.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("t_OrgsTable"),
		Item: map[string]types.AttributeValue{"org_id": s("org_a")}}); err != nil {
		t.Fatalf("shared client: %v", err)
	}
	if n := http.calls.Load(); n != 2 {
		t.Errorf("%d requests reached DynamoDB, want 2 (the denied one must not)", n)
	}
	got := rec.Calls()
	want := []Call{
		{Function: "ReaderFunction", Action: "dynamodb:GetItem", Resource: "arn:aws:dynamodb:us-east-1:123456789012:table/OrgsTable",
			LocalResource: "arn:aws:dynamodb:us-east-1:123456789012:table/t_OrgsTable", Allowed: true,
			Context: map[string][]string{"dynamodb:Attributes": {"org_id"}}},
		{Function: "ReaderFunction", Action: "dynamodb:PutItem", Resource: "arn:aws:dynamodb:us-east-1:123456789012:table/OrgsTable",
			LocalResource: "arn:aws:dynamodb:us-east-1:123456789012:table/t_OrgsTable", Allowed: false,
			Context: map[string][]string{"dynamodb:Attributes": {"org_id"}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("recorded\n%+v\nwant\n%+v", got, want)
	}
}

// TestTemplateRoles evaluates template.yaml's roles on the calls that
// matter most: the authorizer may write last-used and nothing else of a
// key, and the audit function reads its own stream only.
func TestTemplateRoles(t *testing.T) {
	tpl, err := samtemplate.Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	roles, err := Roles(tpl, Env{TableName: local})
	if err != nil {
		t.Fatal(err)
	}
	arn := func(rest string) string { return "arn:aws:dynamodb:us-east-1:123456789012:table/" + rest }
	for _, tc := range []struct {
		fn   string
		req  Request
		want Decision
	}{
		{"AuthorizerFunction", Request{Action: "dynamodb:UpdateItem", Resource: arn("t_KeysTable"),
			Context: map[string][]string{"dynamodb:Attributes": {"key_hash", "last_used_at"}}}, Allowed},
		// It may not even remove the marker of the last admin change.
		{"AuthorizerFunction", Request{Action: "dynamodb:UpdateItem", Resource: arn("t_KeysTable"),
			Context: map[string][]string{"dynamodb:Attributes": {"key_hash", "last_change", "last_used_at"}}}, ImplicitDeny},
		{"AuthorizerFunction", Request{Action: "dynamodb:UpdateItem", Resource: arn("t_KeysTable"),
			Context: map[string][]string{"dynamodb:Attributes": {"key_hash", "status"}}}, ImplicitDeny},
		{"AuthorizerFunction", Request{Action: "dynamodb:UpdateItem", Resource: arn("t_KeysTable"),
			Context: map[string][]string{"dynamodb:Attributes": {"key_hash", "last_used_at"}, "dynamodb:ReturnValues": {"ALL_OLD"}}}, ImplicitDeny},
		{"AuthorizerFunction", Request{Action: "dynamodb:UpdateItem", Resource: arn("t_OrgsTable")}, ImplicitDeny},
		{"AuditFunction", Request{Action: "dynamodb:GetRecords", Resource: arn("t_KeysTable/stream/2026-01-01T00:00:00.000")}, Allowed},
		{"AuditFunction", Request{Action: "dynamodb:GetRecords", Resource: arn("t_OrgsTable/stream/2026-01-01T00:00:00.000")}, ImplicitDeny},
		{"AuditFunction", Request{Action: "dynamodb:PutItem", Resource: arn("t_AuditTable")}, Allowed},
		{"AuditFunction", Request{Action: "dynamodb:PutItem", Resource: arn("t_KeysTable")}, ImplicitDeny},
		{"WhoamiFunction", Request{Action: "dynamodb:GetItem", Resource: arn("t_KeysTable")}, ImplicitDeny},
	} {
		if got := roles[tc.fn].Policy.Evaluate(tc.req); got != tc.want {
			t.Errorf("%s %s %s %v: %v, want %v", tc.fn, tc.req.Action, tc.req.Resource, tc.req.Context, got, tc.want)
		}
	}
}

// fakeStreams answers DynamoDB Streams calls: each GetShardIterator and
// GetRecords hands out the next iterator.
type fakeStreams struct{ n atomic.Int64 }

func (f *fakeStreams) Do(r *http.Request) (*http.Response, error) {
	body := "{}"
	switch target := r.Header.Get("X-Amz-Target"); {
	case strings.HasSuffix(target, ".GetShardIterator"):
		body = fmt.Sprintf(`{"ShardIterator":"it-%d"}`, f.n.Add(1))
	case strings.HasSuffix(target, ".GetRecords"):
		body = fmt.Sprintf(`{"Records":[],"NextShardIterator":"it-%d"}`, f.n.Add(1))
	}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/x-amz-json-1.0"}},
		Body: io.NopCloser(strings.NewReader(body))}, nil
}

func TestStreamsMiddleware(t *testing.T) {
	tpl := loadTestTemplate(t, `
Resources:
  KeysTable:
    Type: AWS::DynamoDB::Table
    Properties:
      KeySchema: [{AttributeName: key_hash, KeyType: HASH}]
      StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES}
  OrgsTable:
    Type: AWS::DynamoDB::Table
    Properties:
      KeySchema: [{AttributeName: org_id, KeyType: HASH}]
      StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES}
  Reader:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement:
            - Effect: Allow
              Action: [dynamodb:GetShardIterator, dynamodb:GetRecords]
              Resource: !GetAtt KeysTable.StreamArn
`)
	rec := NewRecorder(nil)
	e, err := New(tpl, Env{TableName: local}, rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	base := dynamodbstreams.New(dynamodbstreams.Options{Region: "us-east-1", HTTPClient: &fakeStreams{},
		BaseEndpoint: aws.String("http://127.0.0.1:1"), Credentials: aws.AnonymousCredentials{}})
	streams := dynamodbstreams.New(base.Options(), e.Streams("Reader"))
	ctx := context.Background()
	// DynamoDB Local's stream ARNs name its own region and account.
	keys := "arn:aws:dynamodb:ddblocal:000000000000:table/t_KeysTable/stream/2026-01-01T00:00:00.000"
	orgs := "arn:aws:dynamodb:ddblocal:000000000000:table/t_OrgsTable/stream/2026-01-01T00:00:00.000"
	it, err := streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(keys),
		ShardId: aws.String("shard-1"), ShardIteratorType: "TRIM_HORIZON"})
	if err != nil {
		t.Fatalf("GetShardIterator on its stream: %v", err)
	}
	next := it.ShardIterator
	for range 3 { // each iterator GetRecords returns is checked on the same stream
		out, err := streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: next})
		if err != nil {
			t.Fatalf("GetRecords with %s: %v", *next, err)
		}
		next = out.NextShardIterator
	}
	if n := len(e.iterators); n != 1 {
		t.Errorf("%d iterators remembered, want 1 (the shard's newest)", n)
	}
	var apiErr smithy.APIError
	_, err = streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(orgs),
		ShardId: aws.String("shard-1"), ShardIteratorType: "TRIM_HORIZON"})
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "AccessDeniedException" ||
		!strings.Contains(apiErr.ErrorMessage(), "arn:aws:dynamodb:us-east-1:123456789012:table/t_OrgsTable/stream/") {
		t.Errorf("GetShardIterator on another table's stream: %v", err)
	}
	if _, err = streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: aws.String("forged")}); !errors.As(err, &apiErr) {
		t.Errorf("GetRecords with an iterator no allowed call issued: %v", err)
	}
	var resources []string
	for _, c := range rec.Calls() {
		resources = append(resources, fmt.Sprintf("%s %s %v", c.Action, c.Resource, c.Allowed))
	}
	want := []string{
		"dynamodb:GetRecords arn:aws:dynamodb:us-east-1:123456789012:table/KeysTable/stream/{label} true",
		"dynamodb:GetRecords arn:aws:dynamodb:us-east-1:123456789012:table/unknown/stream/{label} false",
		"dynamodb:GetShardIterator arn:aws:dynamodb:us-east-1:123456789012:table/KeysTable/stream/{label} true",
		"dynamodb:GetShardIterator arn:aws:dynamodb:us-east-1:123456789012:table/OrgsTable/stream/{label} false",
	}
	if !reflect.DeepEqual(resources, want) {
		t.Errorf("recorded\n%s\nwant\n%s", strings.Join(resources, "\n"), strings.Join(want, "\n"))
	}
}
