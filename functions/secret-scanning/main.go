// Command secret-scanning is the SecretScanningFunction Lambda: GitHub's
// secret scanning partner endpoint, POST /v1/secret-scanning/github.
package main

import (
	"github.com/flowella/apikeys/shared/lambdafn"
	"github.com/flowella/apikeys/shared/secretscan"
)

func main() { lambdafn.Main(secretscan.Build) }
