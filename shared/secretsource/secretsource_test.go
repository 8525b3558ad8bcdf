package secretsource

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

const value = "s3cr3t-0123456789abcdef0123456789abcdef"

// fakeSSM holds parameters by name and records what was asked.
type fakeSSM struct {
	params map[string]types.Parameter
	asked  []ssm.GetParameterInput
}

func (f *fakeSSM) GetParameter(_ context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	f.asked = append(f.asked, *in)
	p, ok := f.params[aws.ToString(in.Name)]
	if !ok {
		return nil, errors.New("ParameterNotFound")
	}
	if p.Type == types.ParameterTypeSecureString && !aws.ToBool(in.WithDecryption) {
		p.Value = aws.String("AQICAHh…ciphertext")
	}
	return &ssm.GetParameterOutput{Parameter: &p}, nil
}

type fakeSecretsManager struct {
	secrets map[string]secretsmanager.GetSecretValueOutput
	asked   []string
}

func (f *fakeSecretsManager) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.asked = append(f.asked, aws.ToString(in.SecretId))
	s, ok := f.secrets[aws.ToString(in.SecretId)]
	if !ok {
		return nil, errors.New("ResourceNotFoundException")
	}
	return &s, nil
}

const (
	paramARN  = "arn:aws:ssm:eu-west-1:123456789012:parameter/flowella/prod/session"
	secretARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:flowella/prod/session-AbCdEf"
)

func stores() (*fakeSSM, *fakeSecretsManager) {
	secure := types.Parameter{Type: types.ParameterTypeSecureString, Value: aws.String(value)}
	return &fakeSSM{params: map[string]types.Parameter{
			"/flowella/prod/session": secure,
			"flowella-session":       secure,
			paramARN:                 secure,
			"/flowella/plain":        {Type: types.ParameterTypeString, Value: aws.String(value)},
			"/flowella/empty":        {Type: types.ParameterTypeSecureString, Value: aws.String("")},
		}}, &fakeSecretsManager{secrets: map[string]secretsmanager.GetSecretValueOutput{
			"flowella/prod/session": {SecretString: aws.String(value)},
			secretARN:               {SecretString: aws.String(value)},
			"flowella/binary":       {SecretBinary: []byte(value)},
		}}
}

func TestRead(t *testing.T) {
	tests := []struct {
		name      string
		ref       string
		wantSSM   string // the parameter name asked for
		wantSM    string // the secret id asked for
		wantError string
	}{
		{name: "ssm prefix", ref: "ssm:/flowella/prod/session", wantSSM: "/flowella/prod/session"},
		{name: "parameter path", ref: "/flowella/prod/session", wantSSM: "/flowella/prod/session"},
		{name: "bare parameter name", ref: "flowella-session", wantSSM: "flowella-session"},
		{name: "parameter ARN", ref: paramARN, wantSSM: paramARN},
		{name: "secretsmanager prefix", ref: "secretsmanager:flowella/prod/session", wantSM: "flowella/prod/session"},
		{name: "secretsmanager prefix with an ARN", ref: "secretsmanager:" + secretARN, wantSM: secretARN},
		{name: "secret ARN", ref: secretARN, wantSM: secretARN},
		{name: "String parameter refused", ref: "ssm:/flowella/plain", wantSSM: "/flowella/plain", wantError: "not a SecureString"},
		{name: "empty parameter", ref: "ssm:/flowella/empty", wantSSM: "/flowella/empty", wantError: "is empty"},
		{name: "missing parameter", ref: "ssm:/flowella/nope", wantSSM: "/flowella/nope", wantError: "ParameterNotFound"},
		{name: "missing secret", ref: "secretsmanager:nope", wantSM: "nope", wantError: "ResourceNotFoundException"},
		{name: "binary secret", ref: "secretsmanager:flowella/binary", wantSM: "flowella/binary", wantError: "SecretString"},
		{name: "ARN of another service", ref: "arn:aws:s3:::bucket/key", wantError: "not of ssm or secretsmanager"},
		{name: "prefix alone", ref: "ssm:", wantError: "give ssm:/parameter/name"},
		{name: "empty", ref: "", wantError: "give ssm:/parameter/name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps, sm := stores()
			got, err := Reader{SSM: ps, SecretsManager: sm}.Read(context.Background(), tt.ref)
			if tt.wantError == "" {
				if err != nil || got != value {
					t.Fatalf("Read = %q, %v", got, err)
				}
			} else {
				if err == nil || !strings.Contains(err.Error(), tt.wantError) {
					t.Fatalf("err = %v, want one saying %q", err, tt.wantError)
				}
				if strings.Contains(err.Error(), value) {
					t.Fatalf("error shows the secret: %v", err)
				}
			}
			switch {
			case tt.wantSSM != "":
				if len(ps.asked) != 1 || aws.ToString(ps.asked[0].Name) != tt.wantSSM || !aws.ToBool(ps.asked[0].WithDecryption) || len(sm.asked) != 0 {
					t.Fatalf("asked SSM %+v, Secrets Manager %v; want one decrypted GetParameter of %s", ps.asked, sm.asked, tt.wantSSM)
				}
			case tt.wantSM != "":
				if len(sm.asked) != 1 || sm.asked[0] != tt.wantSM || len(ps.asked) != 0 {
					t.Fatalf("asked SSM %+v, Secrets Manager %v; want one GetSecretValue of %s", ps.asked, sm.asked, tt.wantSM)
				}
			default:
				if len(ps.asked)+len(sm.asked) != 0 {
					t.Fatalf("a malformed name reached a store: %+v %v", ps.asked, sm.asked)
				}
			}
		})
	}
}
