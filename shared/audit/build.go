package audit

import (
	"context"

	"github.com/flowella/apikeys/shared/lambdafn"
)

// Build builds AuditFunction: the keys table's stream into AUDIT_TABLE.
func Build(_ context.Context, env lambdafn.Env) (any, error) {
	v, err := env.Required("AUDIT_TABLE")
	if err != nil {
		return nil, err
	}
	return (&Handler{DB: env.DB, Table: v[0], Log: env.Log}).Handle, nil
}
