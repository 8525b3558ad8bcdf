// Command list-key-activity is the ListKeyActivityFunction Lambda: GET
// /v1/api-keys/{id}/activity (the requests made with a key).
package main

import (
	"github.com/flowella/apikeys/shared/adminapi"
	"github.com/flowella/apikeys/shared/lambdafn"
)

func main() { lambdafn.Main(adminapi.BuildListKeyActivity) }
