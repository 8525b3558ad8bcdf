package localstack

import (
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/flowella/apikeys/local/dynamofault"
)

// faultInjector returns the injector of DynamoDB faults that the functions'
// clients get: cfg.Faults, or else the one LOCAL_DYNAMODB_FAULTS configures
// (nil, no faults, when it is unset). DynamoDB Local serialises transactions
// and updates its indexes synchronously; with this, `make run` and the tests
// meet the transaction conflicts, throttling and index lag of AWS:
//
//	LOCAL_DYNAMODB_FAULTS="conflicts=0.2,gsi_lag=2s" make run
func faultInjector(cfg Config) (*dynamofault.Injector, error) {
	inj := cfg.Faults
	if inj == nil {
		var err error
		if inj, err = dynamofault.FromEnv(os.Getenv); err != nil || inj == nil {
			return nil, err
		}
		cfg.Log.Warn("injecting DynamoDB faults into the functions' clients", "faults", inj.Config().String())
	}
	// The index lag tells items apart by their table's key.
	inputs, err := cfg.Template.Tables(cfg.TableName)
	if err != nil {
		return nil, err
	}
	for _, in := range inputs {
		var attrs []string
		for _, k := range in.KeySchema {
			attrs = append(attrs, aws.ToString(k.AttributeName))
		}
		inj.KeySchema(aws.ToString(in.TableName), attrs...)
	}
	return inj, nil
}
