// Command roll-key is the RollKeyFunction Lambda: POST /v1/api-keys/{id}/roll.
package main

import (
	"github.com/flowella/apikeys/shared/adminapi"
	"github.com/flowella/apikeys/shared/lambdafn"
)

func main() { lambdafn.Main(adminapi.BuildRollKey) }
