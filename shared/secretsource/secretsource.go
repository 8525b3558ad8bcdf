// Package secretsource reads a secret that AWS keeps, an SSM Parameter Store
// SecureString or a Secrets Manager secret, by the name a template parameter
// gives. Functions read it once at start, so the secret never sits in their
// environment, where anyone allowed lambda:GetFunctionConfiguration sees it.
package secretsource

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// ParameterStore is the one SSM call a Reader makes.
type ParameterStore interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, optFns ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// SecretsManager is the one Secrets Manager call a Reader makes.
type SecretsManager interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Reader reads secrets from either store.
type Reader struct {
	SSM            ParameterStore
	SecretsManager SecretsManager
}

// New builds a Reader on the function's AWS configuration. The clients
// connect only when Read is called.
func New(cfg aws.Config) Reader {
	return Reader{SSM: ssm.NewFromConfig(cfg), SecretsManager: secretsmanager.NewFromConfig(cfg)}
}

// Read returns the secret that name refers to:
//
//   - ssm:/path/to/parameter, /path/to/parameter, a bare parameter name or an
//     SSM parameter ARN: a SecureString parameter, decrypted;
//   - secretsmanager:name (or ARN), or a Secrets Manager ARN: the secret's
//     SecretString (its current version).
//
// Errors name the parameter or secret, never its value.
func (r Reader) Read(ctx context.Context, name string) (string, error) {
	store, id, err := parse(name)
	if err != nil {
		return "", err
	}
	switch store {
	case storeSSM:
		return r.readParameter(ctx, id)
	default:
		return r.readSecret(ctx, id)
	}
}

type store int

const (
	storeSSM store = iota
	storeSecretsManager
)

func parse(name string) (store, string, error) {
	var s store
	var id string
	switch {
	case strings.HasPrefix(name, "ssm:"):
		s, id = storeSSM, strings.TrimPrefix(name, "ssm:")
	case strings.HasPrefix(name, "secretsmanager:"):
		s, id = storeSecretsManager, strings.TrimPrefix(name, "secretsmanager:")
	case strings.HasPrefix(name, "arn:"):
		// arn:partition:service:region:account:resource
		parts := strings.SplitN(name, ":", 6)
		if len(parts) < 6 {
			return 0, "", fmt.Errorf("secret %s: not an ARN", name)
		}
		switch parts[2] {
		case "ssm":
			s = storeSSM
		case "secretsmanager":
			s = storeSecretsManager
		default:
			return 0, "", fmt.Errorf("secret %s: an ARN of %s, not of ssm or secretsmanager", name, parts[2])
		}
		id = name
	default:
		s, id = storeSSM, name
	}
	if strings.TrimSpace(id) == "" || strings.ContainsAny(id, " \t\r\n") {
		return 0, "", fmt.Errorf("secret %q: give ssm:/parameter/name or secretsmanager:secret-name", name)
	}
	return s, id, nil
}

func (r Reader) readParameter(ctx context.Context, name string) (string, error) {
	if r.SSM == nil {
		return "", fmt.Errorf("parameter %s: no SSM client", name)
	}
	out, err := r.SSM.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
	if err != nil {
		return "", fmt.Errorf("get parameter %s: %w", name, err)
	}
	p := out.Parameter
	if p == nil || p.Value == nil || *p.Value == "" {
		return "", fmt.Errorf("parameter %s is empty", name)
	}
	// A String parameter is readable by anyone allowed ssm:GetParameter
	// and shows in the console and in CloudTrail responses in the clear.
	if p.Type != types.ParameterTypeSecureString {
		return "", fmt.Errorf("parameter %s is a %s, not a SecureString: store the secret encrypted (aws ssm put-parameter --type SecureString)", name, p.Type)
	}
	return *p.Value, nil
}

func (r Reader) readSecret(ctx context.Context, id string) (string, error) {
	if r.SecretsManager == nil {
		return "", fmt.Errorf("secret %s: no Secrets Manager client", id)
	}
	out, err := r.SecretsManager.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
	if err != nil {
		return "", fmt.Errorf("get secret %s: %w", id, err)
	}
	if out.SecretString == nil {
		if len(out.SecretBinary) > 0 {
			return "", fmt.Errorf("secret %s holds binary data: store the secret as a string (SecretString)", id)
		}
		return "", fmt.Errorf("secret %s is empty", id)
	}
	if *out.SecretString == "" {
		return "", fmt.Errorf("secret %s is empty", id)
	}
	return *out.SecretString, nil
}
