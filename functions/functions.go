// Package functions maps each function of template.yaml, by logical id, to
// the builder its functions/<name>/main.go passes to lambdafn.Main, so that
// the local stack builds every function through the same code as Lambda.
// Only the local stack and the tests import it: it links every function's
// code, and a Lambda binary carries its own alone.
package functions

import (
	"maps"
	"slices"

	"github.com/flowella/apikeys/shared/activity"
	"github.com/flowella/apikeys/shared/adminapi"
	"github.com/flowella/apikeys/shared/audit"
	"github.com/flowella/apikeys/shared/authorizer"
	"github.com/flowella/apikeys/shared/lambdafn"
	"github.com/flowella/apikeys/shared/secretscan"
	"github.com/flowella/apikeys/shared/whoami"
)

// Named functions only: a test checks that each main.go passes exactly the
// builder registered for its logical id.
var builders = map[string]lambdafn.Builder{
	"AuthorizerFunction":      authorizer.Build,
	"WhoamiFunction":          whoami.Build,
	"CreateKeyFunction":       adminapi.BuildCreateKey,
	"ListKeysFunction":        adminapi.BuildListKeys,
	"GetKeyFunction":          adminapi.BuildGetKey,
	"UpdateKeyFunction":       adminapi.BuildUpdateKey,
	"RevokeKeyFunction":       adminapi.BuildRevokeKey,
	"RollKeyFunction":         adminapi.BuildRollKey,
	"ListAuditEventsFunction": adminapi.BuildListAuditEvents,
	"ListKeyActivityFunction": adminapi.BuildListKeyActivity,
	"GetKeyUsageFunction":     adminapi.BuildGetKeyUsage,
	"GetKeyExposureFunction":  adminapi.BuildGetKeyExposure,
	"AuditFunction":           audit.Build,
	"KeyActivityFunction":     activity.Build,
	"SecretScanningFunction":  secretscan.Build,
}

// Builder returns the builder of the template function logicalID.
func Builder(logicalID string) (lambdafn.Builder, bool) {
	b, ok := builders[logicalID]
	return b, ok
}

// LogicalIDs lists the functions that have a builder, sorted.
func LogicalIDs() []string {
	return slices.Sorted(maps.Keys(builders))
}
