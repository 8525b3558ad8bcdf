// Command get-key-usage is the GetKeyUsageFunction Lambda: GET
// /v1/api-keys/{id}/usage (a key's request counts by hour or day).
package main

import (
	"github.com/flowella/apikeys/shared/adminapi"
	"github.com/flowella/apikeys/shared/lambdafn"
)

func main() { lambdafn.Main(adminapi.BuildGetKeyUsage) }
