// Package samtemplate reads template.yaml so that tests, the local stack and
// the operator's tools take tables, routes, functions and stream wiring from
// the one place that deploys them, instead of repeating them in Go. It only
// reads: it emulates nothing, and no Lambda function links it.
package samtemplate

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"gopkg.in/yaml.v3"
)

// Template is a parsed SAM template. Intrinsic functions in short form
// (!Ref, !GetAtt, !Sub) are turned into their long JSON form.
type Template struct {
	Parameters map[string]struct {
		Default any `json:"Default"`
	} `json:"Parameters"`
	Globals struct {
		Function FunctionProps `json:"Function"`
	} `json:"Globals"`
	Resources map[string]Resource `json:"Resources"`
	// Conditions are the template's named conditions, in long form.
	Conditions map[string]any `json:"Conditions"`
}

// Resource is one entry under Resources, its properties kept raw.
type Resource struct {
	Type       string          `json:"Type"`
	Properties json.RawMessage `json:"Properties"`
}

// FunctionProps is the part of AWS::Serverless::Function this project reads.
type FunctionProps struct {
	Environment struct {
		Variables map[string]any `json:"Variables"`
	} `json:"Environment"`
	Events map[string]Event `json:"Events"`
	// ReservedConcurrentExecutions caps the function's concurrent
	// invocations; 0 when the template sets none.
	ReservedConcurrentExecutions int `json:"ReservedConcurrentExecutions"`
}

// Event is a function's event source.
type Event struct {
	Type       string          `json:"Type"`
	Properties json.RawMessage `json:"Properties"`
}

// Load reads and parses a template file.
func Load(path string) (*Template, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	return Parse(b)
}

// Parse parses template YAML.
func Parse(data []byte) (*Template, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	v, err := toValue(&root)
	if err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	var t Template
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	return &t, nil
}

// toValue converts a YAML node to plain Go values, expanding CloudFormation's
// short-form tags.
func toValue(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return toValue(n.Content[0])
	case yaml.AliasNode:
		return toValue(n.Alias)
	}
	custom := strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!")
	var v any
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			val, err := toValue(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = val
		}
		v = m
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			val, err := toValue(c)
			if err != nil {
				return nil, err
			}
			s = append(s, val)
		}
		v = s
	case yaml.ScalarNode:
		if custom {
			v = n.Value
		} else if err := n.Decode(&v); err != nil {
			return nil, err
		}
	}
	if !custom {
		return v, nil
	}
	name := strings.TrimPrefix(n.Tag, "!")
	switch name {
	case "Ref", "Condition":
		return map[string]any{name: v}, nil
	case "GetAtt":
		if s, ok := v.(string); ok {
			logical, attr, _ := strings.Cut(s, ".")
			return map[string]any{"Fn::GetAtt": []any{logical, attr}}, nil
		}
		return map[string]any{"Fn::GetAtt": v}, nil
	default:
		return map[string]any{"Fn::" + name: v}, nil
	}
}

// Function returns the properties of a function, with Globals merged in.
func (t *Template) Function(logicalID string) (FunctionProps, bool) {
	r, ok := t.Resources[logicalID]
	if !ok || r.Type != "AWS::Serverless::Function" {
		return FunctionProps{}, false
	}
	var p FunctionProps
	if len(r.Properties) > 0 {
		if err := json.Unmarshal(r.Properties, &p); err != nil {
			return FunctionProps{}, false
		}
	}
	vars := map[string]any{}
	for k, v := range t.Globals.Function.Environment.Variables {
		vars[k] = v
	}
	for k, v := range p.Environment.Variables {
		vars[k] = v
	}
	p.Environment.Variables = vars
	return p, true
}

// Functions lists the logical ids of all functions, sorted.
func (t *Template) Functions() []string {
	var out []string
	for id, r := range t.Resources {
		if r.Type == "AWS::Serverless::Function" {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// TableProps is the part of AWS::DynamoDB::Table that DynamoDB Local needs.
type TableProps struct {
	AttributeDefinitions   []types.AttributeDefinition
	KeySchema              []types.KeySchemaElement
	GlobalSecondaryIndexes []struct {
		IndexName  string
		KeySchema  []types.KeySchemaElement
		Projection struct {
			ProjectionType   types.ProjectionType
			NonKeyAttributes []string
		}
	}
	StreamSpecification     *struct{ StreamViewType types.StreamViewType }
	TimeToLiveSpecification *struct {
		AttributeName string
		Enabled       bool
	}
}

// Tables returns a CreateTable input for every DynamoDB table in the
// template, named by name(logicalID), on-demand billing.
func (t *Template) Tables(name func(logicalID string) string) (map[string]*dynamodb.CreateTableInput, error) {
	out := map[string]*dynamodb.CreateTableInput{}
	for id, r := range t.Resources {
		if r.Type != "AWS::DynamoDB::Table" {
			continue
		}
		var p TableProps
		if err := json.Unmarshal(r.Properties, &p); err != nil {
			return nil, fmt.Errorf("table %s: %w", id, err)
		}
		in := &dynamodb.CreateTableInput{
			TableName:            aws.String(name(id)),
			AttributeDefinitions: p.AttributeDefinitions,
			KeySchema:            p.KeySchema,
			BillingMode:          types.BillingModePayPerRequest,
		}
		for _, g := range p.GlobalSecondaryIndexes {
			in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{
				IndexName: aws.String(g.IndexName),
				KeySchema: g.KeySchema,
				Projection: &types.Projection{
					ProjectionType:   g.Projection.ProjectionType,
					NonKeyAttributes: g.Projection.NonKeyAttributes,
				},
			})
		}
		if p.StreamSpecification != nil {
			in.StreamSpecification = &types.StreamSpecification{
				StreamEnabled:  aws.Bool(true),
				StreamViewType: p.StreamSpecification.StreamViewType,
			}
		}
		out[id] = in
	}
	return out, nil
}
