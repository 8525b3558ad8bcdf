package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"gopkg.in/yaml.v3"

	"github.com/flowella/apikeys/shared/samtemplate"
	"github.com/flowella/apikeys/shared/secretsource"
	"github.com/flowella/apikeys/shared/session"
)

const templatePath = "../../template.yaml"

// Every SESSION_* variable the verifier reads is set by the template, so a
// deployment can configure all of it.
func TestTemplateSetsEverySessionVariable(t *testing.T) {
	tpl, err := samtemplate.Load(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	env, err := tpl.Environment("AuthorizerFunction", nil, func(id string) string { return id })
	if err != nil {
		t.Fatal(err)
	}
	session.ConfigFromEnv(func(name string) string {
		if _, ok := env[name]; !ok {
			t.Errorf("the verifier reads %s; the template does not set it for AuthorizerFunction", name)
		}
		return ""
	})
}

// The authorizer's role may read the one parameter or secret that
// SessionHS256SecretName names, and nothing when it is empty; and the reader
// asks for exactly the resource the role grants.
func TestTemplateGrantsOnlyTheNamedSecret(t *testing.T) {
	const (
		region  = "eu-west-1"
		account = "123456789012"
		kmsKey  = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	)
	tests := []struct {
		name, secretName, kmsKey string
		want                     []string // "action resource", besides DynamoDB
	}{
		{"no secret name", "", "", nil},
		{"SSM parameter", "ssm:/flowella/prod/session", "",
			[]string{"ssm:GetParameter arn:aws:ssm:eu-west-1:123456789012:parameter/flowella/prod/session"}},
		{"Secrets Manager secret", "secretsmanager:flowella/prod/session", "",
			[]string{"secretsmanager:GetSecretValue arn:aws:secretsmanager:eu-west-1:123456789012:secret:flowella/prod/session-??????"}},
		{"SSM parameter with a customer managed key", "ssm:/flowella/prod/session", kmsKey,
			[]string{"kms:Decrypt " + kmsKey, "ssm:GetParameter arn:aws:ssm:eu-west-1:123456789012:parameter/flowella/prod/session"}},
	}
	tpl := loadForEvaluation(t)
	pattern := regexp.MustCompile(tpl.allowedPattern(t, "SessionHS256SecretName"))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !pattern.MatchString(tt.secretName) {
				t.Fatalf("the template's AllowedPattern refuses %q", tt.secretName)
			}
			e := evaluator{conditions: tpl.conditions, params: map[string]string{
				"SessionHS256SecretName": tt.secretName, "SessionHS256SecretKmsKeyArn": tt.kmsKey,
				"AWS::Region": region, "AWS::AccountId": account, "AWS::Partition": "aws",
			}}
			var got []string
			for _, st := range e.statements(t, tpl.authorizerPolicies) {
				for _, action := range st.actions {
					if !strings.HasPrefix(action, "dynamodb:") {
						got = append(got, action+" "+st.resource)
					}
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("grants %q, want %q", got, tt.want)
			}
			if tt.secretName == "" {
				return
			}
			// The name the authorizer reads is the one in the granted ARN.
			asked := askedFor(t, tt.secretName)
			granted := strings.SplitN(got[len(got)-1], " ", 2)[1]
			if want := strings.TrimSuffix(strings.SplitN(granted, ":", 6)[5], "-??????"); "parameter"+asked != want && "secret:"+asked != want {
				t.Fatalf("reader asks for %q; the role grants %s", asked, granted)
			}
		})
	}
}

// askedFor returns the parameter name or secret id the authorizer's reader
// requests for ref.
func askedFor(t *testing.T, ref string) string {
	t.Helper()
	rec := &recorder{}
	if _, err := (secretsource.Reader{SSM: rec, SecretsManager: rec}).Read(context.Background(), ref); err != nil {
		t.Fatal(err)
	}
	return rec.asked
}

type recorder struct{ asked string }

func (r *recorder) GetParameter(_ context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	r.asked = aws.ToString(in.Name)
	return &ssm.GetParameterOutput{Parameter: &types.Parameter{Type: types.ParameterTypeSecureString, Value: aws.String("x")}}, nil
}

func (r *recorder) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	r.asked = aws.ToString(in.SecretId)
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String("x")}, nil
}

// evaluatedTemplate is the part of the template this test evaluates, with
// short-form intrinsics in their long form.
type evaluatedTemplate struct {
	root               map[string]any
	conditions         map[string]any
	authorizerPolicies any
}

func loadForEvaluation(t *testing.T) evaluatedTemplate {
	t.Helper()
	b, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	var n yaml.Node
	if err := yaml.Unmarshal(b, &n); err != nil {
		t.Fatal(err)
	}
	root, _ := longForm(&n).(map[string]any)
	conditions, _ := root["Conditions"].(map[string]any)
	fn := root["Resources"].(map[string]any)["AuthorizerFunction"].(map[string]any)
	return evaluatedTemplate{root: root, conditions: conditions, authorizerPolicies: fn["Properties"].(map[string]any)["Policies"]}
}

func (tpl evaluatedTemplate) allowedPattern(t *testing.T, param string) string {
	t.Helper()
	p, _ := tpl.root["Parameters"].(map[string]any)[param].(map[string]any)["AllowedPattern"].(string)
	if p == "" {
		t.Fatalf("parameter %s has no AllowedPattern", param)
	}
	return p
}

func longForm(n *yaml.Node) any {
	switch n.Kind {
	case yaml.DocumentNode:
		return longForm(n.Content[0])
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = longForm(n.Content[i+1])
		}
		return tagged(n, m)
	case yaml.SequenceNode:
		s := []any{}
		for _, c := range n.Content {
			s = append(s, longForm(c))
		}
		return tagged(n, s)
	default:
		var v any = n.Value
		if !strings.HasPrefix(n.Tag, "!") || strings.HasPrefix(n.Tag, "!!") {
			_ = n.Decode(&v)
		}
		return tagged(n, v)
	}
}

func tagged(n *yaml.Node, v any) any {
	if !strings.HasPrefix(n.Tag, "!") || strings.HasPrefix(n.Tag, "!!") {
		return v
	}
	switch name := strings.TrimPrefix(n.Tag, "!"); name {
	case "Ref", "Condition":
		return map[string]any{name: v}
	case "GetAtt":
		return map[string]any{"Fn::GetAtt": strings.SplitN(fmt.Sprint(v), ".", 2)}
	default:
		return map[string]any{"Fn::" + name: v}
	}
}

// evaluator resolves the intrinsic functions the authorizer's policies and
// their conditions use, as CloudFormation would for given parameters.
type evaluator struct {
	conditions map[string]any
	params     map[string]string
}

type noValue struct{}

func (e evaluator) eval(t *testing.T, v any) any {
	t.Helper()
	switch v := v.(type) {
	case []any:
		out := []any{}
		for _, x := range v {
			if r := e.eval(t, x); r != (noValue{}) {
				out = append(out, r)
			}
		}
		return out
	case map[string]any:
		if len(v) == 1 {
			for k, arg := range v {
				switch k {
				case "Ref":
					if arg == "AWS::NoValue" {
						return noValue{}
					}
					p, ok := e.params[arg.(string)]
					if !ok {
						t.Fatalf("Ref %v: no value", arg)
					}
					return p
				case "Condition":
					return e.eval(t, e.conditions[arg.(string)])
				case "Fn::GetAtt":
					return fmt.Sprintf("%v", arg)
				case "Fn::Equals":
					a := arg.([]any)
					return e.eval(t, a[0]) == e.eval(t, a[1])
				case "Fn::Not":
					return !e.eval(t, arg.([]any)[0]).(bool)
				case "Fn::If":
					a := arg.([]any)
					if e.eval(t, e.conditions[a[0].(string)]).(bool) {
						return e.eval(t, a[1])
					}
					return e.eval(t, a[2])
				case "Fn::Select":
					a := arg.([]any)
					list := e.eval(t, a[1]).([]any)
					i := a[0].(int)
					if i >= len(list) {
						t.Fatalf("Fn::Select %d of %v: out of range, the stack would fail", i, list)
					}
					return list[i]
				case "Fn::Split":
					a := arg.([]any)
					var out []any
					for _, s := range strings.Split(e.eval(t, a[1]).(string), a[0].(string)) {
						out = append(out, s)
					}
					return out
				case "Fn::Sub":
					return e.sub(t, arg)
				}
			}
		}
		out := map[string]any{}
		for k, x := range v {
			if r := e.eval(t, x); r != (noValue{}) {
				out[k] = r
			}
		}
		return out
	default:
		return v
	}
}

var subVar = regexp.MustCompile(`\$\{([^}]+)\}`)

func (e evaluator) sub(t *testing.T, arg any) string {
	t.Helper()
	s, vars := "", map[string]any{}
	switch a := arg.(type) {
	case string:
		s = a
	case []any:
		s, vars = a[0].(string), a[1].(map[string]any)
	}
	return subVar.ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-1]
		if v, ok := vars[name]; ok {
			return fmt.Sprint(e.eval(t, v))
		}
		p, ok := e.params[name]
		if !ok {
			t.Fatalf("Fn::Sub %s: no value", m)
		}
		return p
	})
}

type statement struct {
	actions  []string
	resource string
}

func (e evaluator) statements(t *testing.T, policies any) []statement {
	t.Helper()
	var out []statement
	for _, p := range e.eval(t, policies).([]any) {
		sts, _ := p.(map[string]any)["Statement"].([]any)
		for _, st := range sts {
			m := st.(map[string]any)
			var actions []string
			switch a := m["Action"].(type) {
			case string:
				actions = []string{a}
			case []any:
				for _, x := range a {
					actions = append(actions, x.(string))
				}
			}
			res, _ := json.Marshal(m["Resource"])
			r := string(res)
			if s, ok := m["Resource"].(string); ok {
				r = s
			}
			out = append(out, statement{actions: actions, resource: r})
		}
	}
	return out
}
