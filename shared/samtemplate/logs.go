package samtemplate

import (
	"encoding/json"
	"fmt"
	"sort"
)

// LogSubscription is an AWS::Logs::SubscriptionFilter that delivers a log
// group's matching events to a function.
type LogSubscription struct {
	Name          string // the filter's logical id
	LogGroup      string // logical id of the AWS::Logs::LogGroup
	Function      string // logical id of the destination function
	FilterPattern string
}

// LogSubscriptions lists the subscription filters, sorted by name. Each must
// name a log group of the template (!Ref) and deliver to a function of the
// template (!GetAtt Function.Arn): those are the ones the local stack can
// run.
func (t *Template) LogSubscriptions() ([]LogSubscription, error) {
	var out []LogSubscription
	for id, r := range t.Resources {
		if r.Type != "AWS::Logs::SubscriptionFilter" {
			continue
		}
		var p struct {
			LogGroupName   map[string]any
			DestinationArn map[string]any
			FilterPattern  string
		}
		if err := json.Unmarshal(r.Properties, &p); err != nil {
			return nil, fmt.Errorf("subscription filter %s: %w", id, err)
		}
		group, _ := p.LogGroupName["Ref"].(string)
		if g, ok := t.Resources[group]; !ok || g.Type != "AWS::Logs::LogGroup" {
			return nil, fmt.Errorf("subscription filter %s: LogGroupName must be !Ref of a log group of the template", id)
		}
		fn := getAttArn(p.DestinationArn)
		if _, ok := t.Function(fn); !ok {
			return nil, fmt.Errorf("subscription filter %s: DestinationArn must be !GetAtt <function>.Arn of the template", id)
		}
		out = append(out, LogSubscription{Name: id, LogGroup: group, Function: fn, FilterPattern: p.FilterPattern})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// FunctionLogGroup is the logical id of the log group a function logs to
// (LoggingConfig.LogGroup: !Ref), or "" when the template names none.
func (t *Template) FunctionLogGroup(fn string) string {
	var p struct {
		LoggingConfig struct{ LogGroup map[string]any }
	}
	if r, ok := t.Resources[fn]; ok {
		_ = json.Unmarshal(r.Properties, &p)
	}
	group, _ := p.LoggingConfig.LogGroup["Ref"].(string)
	return group
}

// AccessLogGroup is the logical id of the log group an API writes its access
// log to (AccessLogSetting.DestinationArn: !GetAtt <group>.Arn), or "".
func (t *Template) AccessLogGroup(api string) string {
	var p struct {
		AccessLogSetting struct{ DestinationArn map[string]any }
	}
	if r, ok := t.Resources[api]; ok {
		_ = json.Unmarshal(r.Properties, &p)
	}
	return getAttArn(p.AccessLogSetting.DestinationArn)
}

// getAttArn reads !GetAtt <logical id>.Arn.
func getAttArn(v map[string]any) string {
	att, _ := v["Fn::GetAtt"].([]any)
	if len(att) != 2 || att[1] != "Arn" {
		return ""
	}
	id, _ := att[0].(string)
	return id
}
