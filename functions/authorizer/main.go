// Command authorizer is the AuthorizerFunction Lambda: it verifies the bearer
// API key or session token of every API request.
package main

import (
	"github.com/flowella/apikeys/shared/authorizer"
	"github.com/flowella/apikeys/shared/lambdafn"
)

func main() { lambdafn.Main(authorizer.Build) }
