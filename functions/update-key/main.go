// Command update-key is the UpdateKeyFunction Lambda: PATCH /v1/api-keys/{id}.
package main

import (
	"github.com/flowella/apikeys/shared/adminapi"
	"github.com/flowella/apikeys/shared/lambdafn"
)

func main() { lambdafn.Main(adminapi.BuildUpdateKey) }
