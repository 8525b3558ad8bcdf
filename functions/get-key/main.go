// Command get-key is the GetKeyFunction Lambda: GET /v1/api-keys/{id}.
package main

import (
	"github.com/flowella/apikeys/shared/adminapi"
	"github.com/flowella/apikeys/shared/lambdafn"
)

func main() { lambdafn.Main(adminapi.BuildGetKey) }
