// Command audit-stream is the AuditFunction Lambda: it turns the keys
// table's stream into audit records.
package main

import (
	"github.com/flowella/apikeys/shared/audit"
	"github.com/flowella/apikeys/shared/lambdafn"
)

func main() { lambdafn.Main(audit.Build) }
