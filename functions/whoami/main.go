// Command whoami is the WhoamiFunction Lambda: GET /v1/whoami.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/flowella/apikeys/shared/whoami"
)

func main() {
	lambda.Start(whoami.Handle)
}
