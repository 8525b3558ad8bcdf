package authz_test

import (
	"slices"
	"testing"

	"github.com/flowella/apikeys/shared/authz"
)

func TestNotGranted(t *testing.T) {
	c, err := authz.LoadFile("")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		scopes []string
		plan   string
		want   []string
	}{
		{"inside the plan", []string{"messages:send", "contacts:read"}, "hobby", nil},
		{"the wildcard lacks nothing", []string{"*"}, "hobby", nil},
		{"outside hobby, in order", []string{"analytics:read", "messages:send", "webhooks:manage"}, "hobby", []string{"analytics:read", "webhooks:manage"}},
		{"inside paid", []string{"analytics:read", "webhooks:manage"}, "paid", nil},
		{"an unknown plan grants nothing", []string{"messages:send"}, "gold", []string{"messages:send"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.NotGranted(tc.scopes, tc.plan); !slices.Equal(got, tc.want) {
				t.Fatalf("NotGranted(%v, %s) = %v, want %v", tc.scopes, tc.plan, got, tc.want)
			}
		})
	}
}
