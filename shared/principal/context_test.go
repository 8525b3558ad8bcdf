package principal_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/flowella/apikeys/shared/principal"
)

var (
	apiKey = principal.Principal{Type: principal.APIKey, OrgID: "org_demo", KeyID: "key_01KMZ0000000000000000000AB",
		KeyPrefix: "flwl_live_a1b2c3", Scopes: []string{"messages:send", "contacts:read"}, Channels: []string{"ch_1", "ch-2"}}
	session = principal.Principal{Type: principal.Session, OrgID: "org_demo", UserID: "u_1", Role: principal.RoleAdmin}
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		p    principal.Principal
	}{
		{"api key", apiKey},
		{"api key without scopes or channels", principal.Principal{Type: principal.APIKey, OrgID: "org_demo",
			KeyID: "key_01KMZ0000000000000000000AB", KeyPrefix: "flwl_live_a1b2c3"}},
		{"api key with one scope", principal.Principal{Type: principal.APIKey, OrgID: "org_demo",
			KeyID: "key_x", KeyPrefix: "flwl_live_a1b2c3", Scopes: []string{"messages:send"}}},
		{"session", session},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := principal.Encode(tt.p)
			for k, v := range ctx {
				// API Gateway takes strings, numbers and booleans only.
				if _, ok := v.(string); !ok {
					t.Fatalf("context[%s] = %#v, not a string", k, v)
				}
			}
			got, err := principal.Decode(ctx)
			if err != nil {
				t.Fatalf("Decode(%v): %v", ctx, err)
			}
			if !reflect.DeepEqual(got, tt.p) {
				t.Fatalf("round trip through %v:\n got %+v\nwant %+v", ctx, got, tt.p)
			}
		})
	}
}

// The context's shape is read by backends and the access log, so it stays
// what it was before this package owned it: flat strings, lists joined by
// spaces, only the fields of the principal's type.
func TestEncodeWritesTheContextBackendsRead(t *testing.T) {
	tests := []struct {
		name string
		p    principal.Principal
		want map[string]any
	}{
		{"api key", apiKey, map[string]any{"principal_type": "api_key", "org_id": "org_demo",
			"key_id": "key_01KMZ0000000000000000000AB", "key_prefix": "flwl_live_a1b2c3",
			"scopes": "messages:send contacts:read", "channels": "ch_1 ch-2"}},
		{"api key refused: no scopes yet", principal.Principal{Type: principal.APIKey, OrgID: "org_demo", KeyID: "key_x", KeyPrefix: "flwl_live_a1b2c3"},
			map[string]any{"principal_type": "api_key", "org_id": "org_demo", "key_id": "key_x", "key_prefix": "flwl_live_a1b2c3"}},
		{"session", principal.Principal{Type: principal.Session, OrgID: "org_demo", UserID: "u_1", Role: "owner", KeyID: "stray"},
			map[string]any{"principal_type": "session", "org_id": "org_demo", "user_id": "u_1", "role": "owner"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := principal.Encode(tt.p); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Encode(%+v)\n got %v\nwant %v", tt.p, got, tt.want)
			}
		})
	}
}

// A context as a REST API proxy event delivers it: API Gateway's own
// fields beside the authorizer's, every value turned into a string.
func TestDecodeReadsAProxyEventContext(t *testing.T) {
	got, err := principal.Decode(map[string]any{"principalId": "key_x", "integrationLatency": float64(12),
		"principal_type": "api_key", "org_id": "org_demo", "key_id": "key_x", "key_prefix": "flwl_live_a1b2c3",
		"scopes": "messages:send  contacts:read"})
	want := principal.Principal{Type: principal.APIKey, OrgID: "org_demo", KeyID: "key_x", KeyPrefix: "flwl_live_a1b2c3",
		Scopes: []string{"messages:send", "contacts:read"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, %v; want %+v", got, err, want)
	}
	// A session's context carries no key, whatever else is in it.
	got, err = principal.Decode(map[string]any{"principal_type": "session", "org_id": "org_demo", "user_id": "u_1",
		"role": "member", "scopes": "messages:send", "key_id": "key_x"})
	want = principal.Principal{Type: principal.Session, OrgID: "org_demo", UserID: "u_1", Role: "member"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("session: got %+v, %v; want %+v", got, err, want)
	}
}

func TestDecodeRefuses(t *testing.T) {
	tests := []struct {
		name string
		ctx  map[string]any
	}{
		{"no context", nil},
		{"empty context", map[string]any{}},
		{"only API Gateway's fields", map[string]any{"principalId": "key_x", "integrationLatency": "3"}},
		{"no principal type", map[string]any{"org_id": "org_demo", "key_id": "key_x"}},
		{"unknown principal type", map[string]any{"principal_type": "admin", "org_id": "org_demo", "user_id": "u_1"}},
		{"principal type in another case", map[string]any{"principal_type": "API_KEY", "org_id": "org_demo", "key_id": "key_x"}},
		{"api key without org", map[string]any{"principal_type": "api_key", "key_id": "key_x"}},
		{"api key with empty org", map[string]any{"principal_type": "api_key", "org_id": "", "key_id": "key_x"}},
		{"session without org", map[string]any{"principal_type": "session", "user_id": "u_1", "role": "owner"}},
		{"api key without key id", map[string]any{"principal_type": "api_key", "org_id": "org_demo", "key_prefix": "flwl_live_a1b2c3"}},
		{"session without user", map[string]any{"principal_type": "session", "org_id": "org_demo", "role": "owner"}},
		{"org id not a string", map[string]any{"principal_type": "api_key", "org_id": map[string]any{"S": "org_demo"}, "key_id": "key_x"}},
		// Present but naming no channel: "no limit" would open every channel.
		{"channels empty", map[string]any{"principal_type": "api_key", "org_id": "org_demo", "key_id": "key_x", "channels": ""}},
		{"channels blank", map[string]any{"principal_type": "api_key", "org_id": "org_demo", "key_id": "key_x", "channels": " \t"}},
		{"scopes not a string", map[string]any{"principal_type": "api_key", "org_id": "org_demo", "key_id": "key_x",
			"scopes": []any{"messages:send"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := principal.Decode(tt.ctx)
			if !errors.Is(err, principal.ErrInvalid) {
				t.Fatalf("Decode(%v) = %+v, %v; want ErrInvalid", tt.ctx, p, err)
			}
			if !reflect.DeepEqual(p, principal.Principal{}) {
				t.Fatalf("a refusal returned a principal: %+v", p)
			}
		})
	}
}
