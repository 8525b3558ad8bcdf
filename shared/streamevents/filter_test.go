package streamevents

import (
	"encoding/json"
	"testing"
)

func TestFilter(t *testing.T) {
	f, err := ParseFilter(`{"eventName":["INSERT","MODIFY"],"dynamodb":{"NewImage":{"last_change":{"M":{"op":{"S":[{"exists":true}]}}}}}}`)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		event string
		want  bool
	}{
		{"admin change", `{"eventName":"MODIFY","dynamodb":{"NewImage":{"last_change":{"M":{"op":{"S":"revoke"}}}}}}`, true},
		{"insert", `{"eventName":"INSERT","dynamodb":{"NewImage":{"last_change":{"M":{"op":{"S":"create"}}}}}}`, true},
		{"last-used only", `{"eventName":"MODIFY","dynamodb":{"NewImage":{"last_used_at":{"S":"x"}}}}`, false},
		{"remove", `{"eventName":"REMOVE","dynamodb":{"NewImage":{"last_change":{"M":{"op":{"S":"x"}}}}}}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ev map[string]any
			if err := json.Unmarshal([]byte(tt.event), &ev); err != nil {
				t.Fatal(err)
			}
			if got := f.Match(ev); got != tt.want {
				t.Fatalf("Match = %v", got)
			}
		})
	}
	notExists, _ := ParseFilter(`{"a":[{"exists":false}],"b":[{"anything-but":["x"]}],"c":[{"prefix":"ab"}]}`)
	if !notExists.Match(map[string]any{"b": "y", "c": "abc"}) || notExists.Match(map[string]any{"a": 1, "b": "y", "c": "abc"}) ||
		notExists.Match(map[string]any{"b": "x", "c": "abc"}) || notExists.Match(map[string]any{"b": "y", "c": "xbc"}) {
		t.Fatal("exists / anything-but / prefix")
	}
}
