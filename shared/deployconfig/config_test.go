package deployconfig

import (
	"slices"
	"strings"
	"testing"
)

// Load reads the shared variables and exactly the tables it is asked for,
// each required.
func TestLoadReadsOnlyTheTablesAskedFor(t *testing.T) {
	full := map[string]string{"KEYS_TABLE": "k", "ORGS_TABLE": "o", "AUDIT_TABLE": "a", "IDEMPOTENCY_TABLE": "i", "ACTIVITY_TABLE": "act"}
	tests := []struct {
		name    string
		env     map[string]string
		also    []string
		want    Config
		wantErr string
	}{
		{name: "key tables", env: full, want: Config{KeysTable: "k", OrgsTable: "o"}},
		{name: "with idempotency", env: full, also: []string{IdempotencyTable},
			want: Config{KeysTable: "k", OrgsTable: "o", IdempotencyTable: "i"}},
		{name: "with audit and activity", env: full, also: []string{AuditTable, ActivityTable},
			want: Config{KeysTable: "k", OrgsTable: "o", AuditTable: "a", ActivityTable: "act"}},
		{name: "audit table missing", env: map[string]string{"KEYS_TABLE": "k", "ORGS_TABLE": "o"}, also: []string{AuditTable},
			wantErr: "AUDIT_TABLE is not set"},
		{name: "key tables missing", env: map[string]string{"AUDIT_TABLE": "a"},
			wantErr: "KEYS_TABLE, ORGS_TABLE are not set"},
		{name: "not a table", env: full, also: []string{"KEYS_TABLE"}, wantErr: "not one of the optional tables"},
		{name: "bad key environment", env: map[string]string{"KEYS_TABLE": "k", "ORGS_TABLE": "o", "KEY_ENVIRONMENT": "prod"},
			wantErr: "KEY_ENVIRONMENT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var read []string
			got, err := Load(func(k string) string { read = append(read, k); return tt.env[k] }, tt.also...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Catalog == nil || got.KeyEnv != "live" {
				t.Errorf("catalog %v, key environment %q; want the built-in catalog and live", got.Catalog, got.KeyEnv)
			}
			got.Catalog, got.KeyEnv = nil, ""
			if got != tt.want {
				t.Errorf("Load = %+v, want %+v", got, tt.want)
			}
			for _, k := range read {
				if strings.HasSuffix(k, "_TABLE") && k != "KEYS_TABLE" && k != "ORGS_TABLE" && !slices.Contains(tt.also, k) {
					t.Errorf("read %s, which was not asked for", k)
				}
			}
		})
	}
}
