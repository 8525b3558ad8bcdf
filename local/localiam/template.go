package localiam

import (
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/flowella/apikeys/shared/samtemplate"
)

// Account is the AWS account id of the local ARNs.
const Account = "123456789012"

// Env says where the template is deployed locally: the region of the ARNs
// and the local name of each table.
type Env struct {
	Region     string                        // "us-east-1" when empty
	TableName  func(logicalID string) string // the local name of a table
	Parameters map[string]string             // template parameter overrides
}

func (e Env) region() string {
	if e.Region == "" {
		return "us-east-1"
	}
	return e.Region
}

// Role is the IAM role of one template function.
type Role struct {
	Function string
	Name     string // <Function>Role, as in AccessDeniedException messages
	Policy   Policy
}

// managedPolicies are the AWS managed policies this package knows, with
// their DynamoDB statements (those granting nothing it checks are empty).
// An attached policy not listed here is refused when the roles load.
var managedPolicies = map[string][]Statement{
	"AWSLambdaBasicExecutionRole": nil,
	"AWSXrayWriteOnlyAccess":      nil,
	"AWSXRayDaemonWriteAccess":    nil,
	"AWSLambdaDynamoDBExecutionRole": {{
		Effect:    Allow,
		Actions:   []string{"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"},
		Resources: []string{"*"},
	}},
}

// Roles reads every function's role from the template: the inline
// statements of its Policies (SAM builds the role from them, adding the
// managed policies of its event sources), or the AWS::IAM::Role its Role
// names. Intrinsic functions in resources resolve to local ARNs.
func Roles(tpl *samtemplate.Template, env Env) (map[string]*Role, error) {
	r := &templateResolver{tpl: tpl, env: env}
	out := map[string]*Role{}
	for _, fn := range tpl.Functions() {
		var props map[string]any
		if raw := tpl.Resources[fn].Properties; len(raw) > 0 {
			if err := json.Unmarshal(raw, &props); err != nil {
				return nil, fmt.Errorf("function %s: %w", fn, err)
			}
		}
		stmts, err := r.functionStatements(fn, props)
		if err != nil {
			return nil, fmt.Errorf("role of %s: %w", fn, err)
		}
		out[fn] = &Role{Function: fn, Name: fn + "Role", Policy: Policy{Statements: stmts}}
	}
	return out, nil
}

func (r *templateResolver) functionStatements(fn string, props map[string]any) ([]Statement, error) {
	if role, ok := props["Role"]; ok {
		if _, has := props["Policies"]; has {
			return nil, fmt.Errorf("both Role and Policies: SAM ignores Policies when Role is set")
		}
		return r.roleResource(role)
	}
	var out []Statement
	policies, err := r.eval(props["Policies"])
	if err != nil {
		return nil, fmt.Errorf("policies: %w", err)
	}
	if s, ok := policies.(string); ok {
		policies = []any{s}
	}
	if policies != nil {
		list, ok := policies.([]any)
		if !ok {
			return nil, fmt.Errorf("the Policies property must be a list")
		}
		for i, p := range list {
			switch v := p.(type) {
			case string:
				st, err := managed(v)
				if err != nil {
					return nil, err
				}
				out = append(out, st...)
			case map[string]any:
				doc, ok := v["Statement"]
				if !ok {
					for name := range v {
						return nil, fmt.Errorf("policy %d: SAM policy template %s is not evaluated by localiam; write its statements inline", i, name)
					}
				}
				st, err := parseStatements(doc, r.evalString)
				if err != nil {
					return nil, fmt.Errorf("policy %d: %w", i, err)
				}
				out = append(out, st...)
			default:
				return nil, fmt.Errorf("policy %d: unsupported form %T", i, p)
			}
		}
	}
	// SAM adds the managed policy of each pull event source to the role it
	// generates.
	p, _ := r.tpl.Function(fn)
	for _, ev := range p.Events {
		switch ev.Type {
		case "DynamoDB":
			st, _ := managed("AWSLambdaDynamoDBExecutionRole")
			out = append(out, st...)
		case "Api", "HttpApi", "Schedule", "ScheduleV2", "CloudWatchEvent", "EventBridgeRule", "CloudWatchLogs":
		default:
			return nil, fmt.Errorf("event source type %s: its managed policy is not known to localiam", ev.Type)
		}
	}
	return out, nil
}

// roleResource reads the statements of an AWS::IAM::Role of the template.
func (r *templateResolver) roleResource(ref any) ([]Statement, error) {
	m, _ := ref.(map[string]any)
	getAtt, _ := m["Fn::GetAtt"].([]any)
	if len(getAtt) != 2 || getAtt[1] != "Arn" {
		return nil, fmt.Errorf("Role must be !GetAtt <role>.Arn of a role in the template")
	}
	id, _ := getAtt[0].(string)
	res, ok := r.tpl.Resources[id]
	if !ok || res.Type != "AWS::IAM::Role" {
		return nil, fmt.Errorf("Role %s is not an AWS::IAM::Role of the template", id)
	}
	var raw map[string]any
	if err := json.Unmarshal(res.Properties, &raw); err != nil {
		return nil, fmt.Errorf("role %s: %w", id, err)
	}
	evaluated, err := r.eval(raw)
	if err != nil {
		return nil, fmt.Errorf("role %s: %w", id, err)
	}
	b, _ := json.Marshal(evaluated)
	var props struct {
		ManagedPolicyArns []string
		Policies          []struct {
			PolicyName     any
			PolicyDocument map[string]any
		}
		PermissionsBoundary any
	}
	if err := json.Unmarshal(b, &props); err != nil {
		return nil, fmt.Errorf("role %s: %w", id, err)
	}
	if props.PermissionsBoundary != nil {
		return nil, fmt.Errorf("role %s: permissions boundaries are not evaluated by localiam", id)
	}
	var out []Statement
	for _, arn := range props.ManagedPolicyArns {
		st, err := managed(arn)
		if err != nil {
			return nil, fmt.Errorf("role %s: %w", id, err)
		}
		out = append(out, st...)
	}
	for i, p := range props.Policies {
		st, err := parseStatements(p.PolicyDocument["Statement"], r.evalString)
		if err != nil {
			return nil, fmt.Errorf("role %s policy %d: %w", id, i, err)
		}
		out = append(out, st...)
	}
	return out, nil
}

// managed returns the statements of an AWS managed policy, by name or ARN.
func managed(nameOrArn string) ([]Statement, error) {
	name := path.Base(nameOrArn)
	st, ok := managedPolicies[name]
	if !ok {
		return nil, fmt.Errorf("managed policy %s is not known to localiam", nameOrArn)
	}
	return st, nil
}

type templateResolver struct {
	tpl *samtemplate.Template
	env Env
}

func (r *templateResolver) tableArn(id string) string {
	return "arn:aws:dynamodb:" + r.env.region() + ":" + Account + ":table/" + r.env.TableName(id)
}

// getAtt resolves X.Attr. Tables get their local ARNs; a stream ARN ends in
// a wildcard for the stream label, which DynamoDB Local chooses. Other
// resources get an ARN of their type that no DynamoDB request matches.
func (r *templateResolver) getAtt(id, attr string) (string, error) {
	res, ok := r.tpl.Resources[id]
	if !ok {
		return "", fmt.Errorf("!GetAtt %s.%s: no resource %s", id, attr, id)
	}
	switch {
	case res.Type == "AWS::DynamoDB::Table" && attr == "Arn":
		return r.tableArn(id), nil
	case res.Type == "AWS::DynamoDB::Table" && attr == "StreamArn":
		return r.tableArn(id) + "/stream/*", nil
	case attr == "Arn":
		service := strings.ToLower(strings.Split(res.Type, "::")[1])
		return "arn:aws:" + service + ":" + r.env.region() + ":" + Account + ":" + id, nil
	}
	return "", fmt.Errorf("!GetAtt %s.%s: attribute not resolved by localiam", id, attr)
}

func (r *templateResolver) ref(name string) (string, error) {
	switch name {
	case "AWS::Region":
		return r.env.region(), nil
	case "AWS::AccountId":
		return Account, nil
	case "AWS::Partition":
		return "aws", nil
	case "AWS::URLSuffix":
		return "amazonaws.com", nil
	}
	if v, ok := r.env.Parameters[name]; ok {
		return v, nil
	}
	if p, ok := r.tpl.Parameters[name]; ok {
		if p.Default == nil {
			return "", nil
		}
		return fmt.Sprint(p.Default), nil
	}
	if res, ok := r.tpl.Resources[name]; ok && res.Type == "AWS::DynamoDB::Table" {
		return r.env.TableName(name), nil
	}
	return "", fmt.Errorf("!Ref %s: not resolved by localiam", name)
}

var subVar = regexp.MustCompile(`\$\{([^!}][^}]*)\}`)

// noValue is what !Ref AWS::NoValue evaluates to: the element is left out.
type noValue struct{}

// eval evaluates the intrinsic functions of a template value as
// CloudFormation would with the local parameters: Ref, Fn::GetAtt, Fn::Sub,
// Fn::Join, Fn::Select, Fn::Split, Fn::If and the condition functions.
// Others are an error.
func (r *templateResolver) eval(v any) (any, error) {
	switch x := v.(type) {
	case []any:
		out := make([]any, 0, len(x))
		for _, it := range x {
			e, err := r.eval(it)
			if err != nil {
				return nil, err
			}
			if _, skip := e.(noValue); !skip {
				out = append(out, e)
			}
		}
		return out, nil
	case map[string]any:
		if len(x) == 1 {
			for fn, arg := range x {
				if fn == "Ref" || fn == "Condition" || strings.HasPrefix(fn, "Fn::") {
					return r.intrinsic(fn, arg)
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, it := range x {
			e, err := r.eval(it)
			if err != nil {
				return nil, err
			}
			if _, skip := e.(noValue); !skip {
				out[k] = e
			}
		}
		return out, nil
	}
	return v, nil
}

func (r *templateResolver) evalString(v any) (string, error) {
	e, err := r.eval(v)
	if err != nil {
		return "", err
	}
	switch x := e.(type) {
	case string:
		return x, nil
	case bool, float64:
		return fmt.Sprint(x), nil
	}
	return "", fmt.Errorf("%v is not a string", v)
}

func (r *templateResolver) evalList(v any) ([]any, error) {
	e, err := r.eval(v)
	if err != nil {
		return nil, err
	}
	list, ok := e.([]any)
	if !ok {
		return nil, fmt.Errorf("%v is not a list", v)
	}
	return list, nil
}

func (r *templateResolver) intrinsic(fn string, arg any) (any, error) {
	args, _ := arg.([]any)
	switch fn {
	case "Ref":
		name, _ := arg.(string)
		if name == "AWS::NoValue" {
			return noValue{}, nil
		}
		return r.ref(name)
	case "Condition":
		name, _ := arg.(string)
		return r.condition(name)
	case "Fn::GetAtt":
		if s, ok := arg.(string); ok {
			id, attr, _ := strings.Cut(s, ".")
			return r.getAtt(id, attr)
		}
		if len(args) != 2 {
			return nil, fmt.Errorf("!GetAtt %v: want [resource, attribute]", arg)
		}
		id, _ := args[0].(string)
		attr, _ := args[1].(string)
		return r.getAtt(id, attr)
	case "Fn::Sub":
		text, ok := arg.(string)
		vars := map[string]any{}
		if !ok {
			if len(args) != 2 {
				return nil, fmt.Errorf("!Sub %v: want a string or [string, variables]", arg)
			}
			text, _ = args[0].(string)
			m, _ := args[1].(map[string]any)
			for k, v := range m {
				s, err := r.evalString(v)
				if err != nil {
					return nil, fmt.Errorf("!Sub variable %s: %w", k, err)
				}
				vars[k] = s
			}
		}
		var err error
		out := subVar.ReplaceAllStringFunc(text, func(m string) string {
			name := m[2 : len(m)-1]
			if v, ok := vars[name]; ok {
				return v.(string)
			}
			var val string
			var e error
			if id, attr, ok := strings.Cut(name, "."); ok {
				val, e = r.getAtt(id, attr)
			} else {
				val, e = r.ref(name)
			}
			if e != nil && err == nil {
				err = e
			}
			return val
		})
		return strings.ReplaceAll(out, "${!", "${"), err
	case "Fn::Join":
		if len(args) != 2 {
			return nil, fmt.Errorf("!Join %v: want [separator, list]", arg)
		}
		sep, _ := args[0].(string)
		items, err := r.evalList(args[1])
		if err != nil {
			return nil, err
		}
		strs := make([]string, 0, len(items))
		for _, it := range items {
			s, err := r.evalString(it)
			if err != nil {
				return nil, err
			}
			strs = append(strs, s)
		}
		return strings.Join(strs, sep), nil
	case "Fn::Split":
		if len(args) != 2 {
			return nil, fmt.Errorf("!Split %v: want [separator, string]", arg)
		}
		sep, _ := args[0].(string)
		s, err := r.evalString(args[1])
		if err != nil {
			return nil, err
		}
		var out []any
		for _, p := range strings.Split(s, sep) {
			out = append(out, p)
		}
		return out, nil
	case "Fn::Select":
		if len(args) != 2 {
			return nil, fmt.Errorf("!Select %v: want [index, list]", arg)
		}
		idx, err := r.evalString(args[0])
		if err != nil {
			return nil, err
		}
		items, err := r.evalList(args[1])
		if err != nil {
			return nil, err
		}
		var i int
		if _, err := fmt.Sscan(idx, &i); err != nil || i < 0 || i >= len(items) {
			return nil, fmt.Errorf("!Select index %s out of range", idx)
		}
		return items[i], nil
	case "Fn::If":
		if len(args) != 3 {
			return nil, fmt.Errorf("!If %v: want [condition, then, else]", arg)
		}
		name, _ := args[0].(string)
		ok, err := r.condition(name)
		if err != nil {
			return nil, err
		}
		if ok {
			return r.eval(args[1])
		}
		return r.eval(args[2])
	case "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or":
		return r.conditionFunc(fn, args)
	}
	return nil, fmt.Errorf("intrinsic %s is not evaluated by localiam", fn)
}

func (r *templateResolver) condition(name string) (bool, error) {
	def, ok := r.tpl.Conditions[name]
	if !ok {
		return false, fmt.Errorf("no condition %s in the template", name)
	}
	v, err := r.eval(def)
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("condition %s is not a condition function", name)
	}
	return b, nil
}

func (r *templateResolver) conditionFunc(fn string, args []any) (bool, error) {
	if fn == "Fn::Equals" {
		if len(args) != 2 {
			return false, fmt.Errorf("!Equals %v: want two values", args)
		}
		a, err := r.evalString(args[0])
		if err != nil {
			return false, err
		}
		b, err := r.evalString(args[1])
		if err != nil {
			return false, err
		}
		return a == b, nil
	}
	vals := make([]bool, 0, len(args))
	for _, a := range args {
		v, err := r.eval(a)
		if err != nil {
			return false, err
		}
		b, ok := v.(bool)
		if !ok {
			return false, fmt.Errorf("%s: %v is not a condition", fn, a)
		}
		vals = append(vals, b)
	}
	switch fn {
	case "Fn::Not":
		if len(vals) != 1 {
			return false, fmt.Errorf("!Not takes one condition")
		}
		return !vals[0], nil
	case "Fn::And":
		return !slices.Contains(vals, false), nil
	default: // Fn::Or
		return slices.Contains(vals, true), nil
	}
}
