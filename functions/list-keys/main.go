// Command list-keys is the ListKeysFunction Lambda: GET /v1/api-keys.
package main

import (
	"github.com/flowella/apikeys/shared/adminapi"
	"github.com/flowella/apikeys/shared/lambdafn"
)

func main() { lambdafn.Main(adminapi.BuildListKeys) }
