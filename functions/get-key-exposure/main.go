// Command get-key-exposure is the GetKeyExposureFunction Lambda: GET
// /v1/api-keys/{id}/exposure (where a key was used from, and what it changed).
package main

import (
	"github.com/flowella/apikeys/shared/adminapi"
	"github.com/flowella/apikeys/shared/lambdafn"
)

func main() { lambdafn.Main(adminapi.BuildGetKeyExposure) }
