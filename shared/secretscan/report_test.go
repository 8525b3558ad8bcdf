package secretscan_test

import (
	"errors"
	"testing"

	"github.com/flowella/apikeys/shared/secretscan"
)

func TestParseReport(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		want int // matches; -1: malformed
	}{
		{"GitHub's example", `[{"token":"NMIfyYncKcRALEXAMPLE","type":"mycompany_api_token","url":"https://github.com/octocat/Hello-World/blob/12345600b9cbe38a219f39a9941c9319b600c002/foo/bar.txt","source":"content"}]`, 1},
		{"two", `[{"token":"a","type":"t","url":"u","source":"commit"},{"token":"b","type":"t","url":"u","source":"content"}]`, 2},
		{"empty", `[]`, 0},
		{"fields GitHub may add later", `[{"token":"a","type":"t","url":"u","source":"content","new_field":{"x":1}}]`, 1},
		{"only the token", `[{"token":"a"}]`, 1},
		{"not JSON", `token=a`, -1},
		{"an object, not an array", `{"token":"a"}`, -1},
		{"empty body", ``, -1},
		{"an entry that is not an object", `["a"]`, -1},
		{"null entry", `[null]`, -1},
		{"no token", `[{"type":"t"}]`, -1},
		{"empty token", `[{"token":""}]`, -1},
		{"token not a string", `[{"token":5}]`, -1},
		{"url not a string", `[{"token":"a","url":["u"]}]`, -1},
		{"token given twice", `[{"token":"a","token":"b"}]`, -1},
		{"data after the array", `[] []`, -1},
		{"truncated", `[{"token":"a"}`, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := secretscan.ParseReport([]byte(tc.body))
			if tc.want < 0 {
				if !errors.Is(err, secretscan.ErrMalformed) {
					t.Fatalf("got %v, %v; want ErrMalformed", got, err)
				}
				return
			}
			if err != nil || len(got) != tc.want {
				t.Fatalf("got %d matches, %v; want %d", len(got), err, tc.want)
			}
		})
	}
}
