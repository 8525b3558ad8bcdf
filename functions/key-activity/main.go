// Command key-activity is the KeyActivityFunction Lambda: the access log's
// and the authorizer's log lines, delivered by CloudWatch Logs subscription
// filters, become each key's activity records and counters.
package main

import (
	"github.com/flowella/apikeys/shared/activity"
	"github.com/flowella/apikeys/shared/lambdafn"
)

func main() { lambdafn.Main(activity.Build) }
