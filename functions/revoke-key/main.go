// Command revoke-key is the RevokeKeyFunction Lambda: POST
// /v1/api-keys/{id}/revoke.
package main

import (
	"github.com/flowella/apikeys/shared/adminapi"
	"github.com/flowella/apikeys/shared/lambdafn"
)

func main() { lambdafn.Main(adminapi.BuildRevokeKey) }
