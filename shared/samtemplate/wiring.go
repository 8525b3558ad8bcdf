package samtemplate

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// APIRoute is one Api event of a function: which function serves a method
// and path, and whether the API's authorizer guards it.
type APIRoute struct {
	Function   string
	Method     string
	Path       string
	API        string // logical id of the AWS::Serverless::Api
	Authorizer string // logical id of the authorizer function; "" when none
	AuthName   string // the authorizer's name in the API's Auth section
}

// APIRoutes lists every Api event, sorted by path and method.
func (t *Template) APIRoutes() ([]APIRoute, error) {
	var out []APIRoute
	for _, fn := range t.Functions() {
		p, _ := t.Function(fn)
		for name, ev := range p.Events {
			if ev.Type != "Api" {
				continue
			}
			var props struct {
				Path      string
				Method    string
				RestApiId map[string]any
				Auth      struct{ Authorizer string }
			}
			if err := json.Unmarshal(ev.Properties, &props); err != nil {
				return nil, fmt.Errorf("function %s event %s: %w", fn, name, err)
			}
			api, _ := props.RestApiId["Ref"].(string)
			r := APIRoute{Function: fn, Method: strings.ToUpper(props.Method), Path: props.Path, API: api}
			authName := props.Auth.Authorizer
			if authName == "" {
				authName = t.defaultAuthorizer(api)
			}
			if authName != "" && authName != "NONE" {
				fnID, err := t.authorizerFunction(api, authName)
				if err != nil {
					return nil, fmt.Errorf("function %s event %s: %w", fn, name, err)
				}
				r.Authorizer, r.AuthName = fnID, authName
			}
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Method < out[j].Method
	})
	return out, nil
}

type apiAuth struct {
	DefaultAuthorizer string
	Authorizers       map[string]struct {
		FunctionArn map[string]any
		Identity    struct {
			Headers          []string
			ReauthorizeEvery *int
		}
	}
}

func (t *Template) apiAuth(api string) apiAuth {
	var p struct{ Auth apiAuth }
	if r, ok := t.Resources[api]; ok {
		_ = json.Unmarshal(r.Properties, &p)
	}
	return p.Auth
}

func (t *Template) defaultAuthorizer(api string) string { return t.apiAuth(api).DefaultAuthorizer }

func (t *Template) authorizerFunction(api, name string) (string, error) {
	a, ok := t.apiAuth(api).Authorizers[name]
	if !ok {
		return "", fmt.Errorf("api %s has no authorizer %s", api, name)
	}
	getAtt, _ := a.FunctionArn["Fn::GetAtt"].([]any)
	if len(getAtt) != 2 {
		return "", fmt.Errorf("authorizer %s: FunctionArn must be !GetAtt Function.Arn", name)
	}
	id, _ := getAtt[0].(string)
	return id, nil
}

// AuthorizerCacheTTL is the authorizer's result TTL in seconds as the
// template sets it (API Gateway's default, 300, when unset).
func (t *Template) AuthorizerCacheTTL(api, name string) int {
	a := t.apiAuth(api).Authorizers[name]
	if a.Identity.ReauthorizeEvery == nil {
		return 300
	}
	return *a.Identity.ReauthorizeEvery
}

// StreamMapping is a DynamoDB stream event source of a function.
type StreamMapping struct {
	Function              string
	Table                 string // logical id of the table
	BatchSize             int
	MaximumRetryAttempts  int // -1: retry until the record's age limit
	MaximumRecordAge      int // seconds; 0 or -1: no limit but the stream's retention
	BisectBatchOnError    bool
	ReportBatchFailures   bool
	FilterPatterns        []string
	MaximumBatchingWindow int
	OnFailure             string // logical id of the on-failure destination; "" when none
}

// StreamMappings lists every DynamoDB event source.
func (t *Template) StreamMappings() ([]StreamMapping, error) {
	var out []StreamMapping
	for _, fn := range t.Functions() {
		p, _ := t.Function(fn)
		for name, ev := range p.Events {
			if ev.Type != "DynamoDB" {
				continue
			}
			var props struct {
				Stream                         map[string]any
				BatchSize                      int
				MaximumRetryAttempts           *int
				MaximumRecordAgeInSeconds      int
				BisectBatchOnFunctionError     bool
				FunctionResponseTypes          []string
				MaximumBatchingWindowInSeconds int
				FilterCriteria                 struct {
					Filters []struct{ Pattern string }
				}
				DestinationConfig struct {
					OnFailure struct{ Destination map[string]any }
				}
			}
			if err := json.Unmarshal(ev.Properties, &props); err != nil {
				return nil, fmt.Errorf("function %s event %s: %w", fn, name, err)
			}
			getAtt, _ := props.Stream["Fn::GetAtt"].([]any)
			if len(getAtt) != 2 || getAtt[1] != "StreamArn" {
				return nil, fmt.Errorf("function %s event %s: Stream must be !GetAtt Table.StreamArn", fn, name)
			}
			m := StreamMapping{
				Function:              fn,
				Table:                 getAtt[0].(string),
				BatchSize:             props.BatchSize,
				BisectBatchOnError:    props.BisectBatchOnFunctionError,
				MaximumBatchingWindow: props.MaximumBatchingWindowInSeconds,
				MaximumRetryAttempts:  -1,
				MaximumRecordAge:      props.MaximumRecordAgeInSeconds,
			}
			if dest, ok := props.DestinationConfig.OnFailure.Destination["Fn::GetAtt"].([]any); ok && len(dest) == 2 {
				m.OnFailure, _ = dest[0].(string)
			}
			if m.BatchSize == 0 {
				m.BatchSize = 100
			}
			if props.MaximumRetryAttempts != nil {
				m.MaximumRetryAttempts = *props.MaximumRetryAttempts
			}
			for _, rt := range props.FunctionResponseTypes {
				if rt == "ReportBatchItemFailures" {
					m.ReportBatchFailures = true
				}
			}
			for _, f := range props.FilterCriteria.Filters {
				m.FilterPatterns = append(m.FilterPatterns, f.Pattern)
			}
			out = append(out, m)
		}
	}
	return out, nil
}

// Environment resolves a function's environment variables: a !Ref to a
// parameter takes its default (or params[name] when given), a !Ref to a
// resource takes resourceName(logicalID). Other intrinsics are an error.
func (t *Template) Environment(fn string, params map[string]string, resourceName func(string) string) (map[string]string, error) {
	p, ok := t.Function(fn)
	if !ok {
		return nil, fmt.Errorf("no function %s", fn)
	}
	out := map[string]string{}
	for k, v := range p.Environment.Variables {
		switch val := v.(type) {
		case string:
			out[k] = val
		case float64, bool:
			out[k] = fmt.Sprint(val)
		case map[string]any:
			ref, ok := val["Ref"].(string)
			if !ok {
				return nil, fmt.Errorf("function %s: variable %s uses an intrinsic the local stack cannot resolve", fn, k)
			}
			if pv, ok := params[ref]; ok {
				out[k] = pv
			} else if param, ok := t.Parameters[ref]; ok {
				if param.Default != nil {
					out[k] = fmt.Sprint(param.Default)
				} else {
					out[k] = ""
				}
			} else if _, ok := t.Resources[ref]; ok {
				out[k] = resourceName(ref)
			} else {
				return nil, fmt.Errorf("function %s: variable %s refers to unknown %s", fn, k, ref)
			}
		default:
			return nil, fmt.Errorf("function %s: variable %s has an unsupported value", fn, k)
		}
	}
	return out, nil
}
