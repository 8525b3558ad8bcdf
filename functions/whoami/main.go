// Command whoami is the WhoamiFunction Lambda: GET /v1/whoami.
package main

import (
	"github.com/flowella/apikeys/shared/lambdafn"
	"github.com/flowella/apikeys/shared/whoami"
)

func main() { lambdafn.Main(whoami.Build) }
