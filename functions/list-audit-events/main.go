// Command list-audit-events is the ListAuditEventsFunction Lambda: GET
// /v1/audit-events.
package main

import (
	"github.com/flowella/apikeys/shared/adminapi"
	"github.com/flowella/apikeys/shared/lambdafn"
)

func main() { lambdafn.Main(adminapi.BuildListAuditEvents) }
