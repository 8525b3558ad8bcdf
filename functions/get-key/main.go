// Command get-key is the GetKeyFunction Lambda: the admin endpoint served by
// adminapi.Handlers.Get.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/flowella/apikeys/shared/adminapi"
	"github.com/flowella/apikeys/shared/deployconfig"
)

func main() {
	// Configuration, logger and DynamoDB client, once per process.
	fn, err := deployconfig.FromEnv(context.Background())
	if err != nil {
		fn.Log.Error("start-up", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(adminapi.New(fn).Get())
}
