package lambdafn

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

func TestRequiredNamesEveryMissingVariable(t *testing.T) {
	env := Env{Getenv: vars{"KEYS_TABLE": "keys", "AUDIT_TABLE": ""}.get}
	tests := []struct {
		name    string
		ask     []string
		want    []string
		missing []string
	}{
		{"all set", []string{"KEYS_TABLE"}, []string{"keys"}, nil},
		{"empty", []string{"AUDIT_TABLE"}, nil, []string{"AUDIT_TABLE"}},
		{"absent and empty", []string{"KEYS_TABLE", "AUDIT_TABLE", "ACTIVITY_TABLE"}, nil, []string{"AUDIT_TABLE", "ACTIVITY_TABLE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := env.Required(tt.ask...)
			var missing MissingError
			if errors.As(err, &missing) != (tt.missing != nil) || strings.Join(missing, ",") != strings.Join(tt.missing, ",") {
				t.Fatalf("err = %v, want one naming %v", err, tt.missing)
			}
			for _, name := range tt.missing {
				if !strings.Contains(err.Error(), name) {
					t.Errorf("%q does not name %s", err, name)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("values %q, want %q", got, tt.want)
			}
		})
	}
}

type vars map[string]string

func (m vars) get(k string) string { return m[k] }

// Build hands the builder the variables, the logger, and one AWS
// configuration with the DynamoDB client on DYNAMODB_ENDPOINT.
func TestBuildGivesTheBuilderItsEnvironment(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	getenv := vars{"DYNAMODB_ENDPOINT": "http://127.0.0.1:1", "AUDIT_TABLE": "audit"}.get
	var got Env
	h, err := Build(context.Background(), func(_ context.Context, env Env) (any, error) {
		got = env
		return "handler", nil
	}, getenv, log)
	if err != nil || h != "handler" {
		t.Fatalf("Build = %v, %v; want the builder's handler", h, err)
	}
	if got.Getenv("AUDIT_TABLE") != "audit" || got.Log != log || got.DB == nil {
		t.Fatalf("builder got %+v", got)
	}
	if ep := aws.ToString(got.DB.Options().BaseEndpoint); ep != "http://127.0.0.1:1" {
		t.Errorf("DynamoDB endpoint %q, want DYNAMODB_ENDPOINT's", ep)
	}
	if got.AWS.Region != "us-east-1" || got.DB.Options().Region != got.AWS.Region {
		t.Errorf("regions: AWS %q, DynamoDB %q; want the local default for both", got.AWS.Region, got.DB.Options().Region)
	}

	wantErr := errors.New("no")
	if _, err := Build(context.Background(), func(context.Context, Env) (any, error) { return nil, wantErr }, getenv, log); !errors.Is(err, wantErr) {
		t.Errorf("Build = %v, want the builder's error", err)
	}
}

// A function whose build fails stops at start-up: Main logs the reason as
// one JSON line and exits 1, before it takes any event.
func TestMainExitsWhenTheBuildFails(t *testing.T) {
	if os.Getenv("LAMBDAFN_TEST_MAIN") == "1" {
		Main(func(_ context.Context, env Env) (any, error) {
			_, err := env.Required("AUDIT_TABLE")
			return nil, err
		})
		os.Exit(3) // Main returned: not the status it must exit with
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestMainExitsWhenTheBuildFails$")
	cmd.Env = append(os.Environ(), "LAMBDAFN_TEST_MAIN=1", "AUDIT_TABLE=", "AWS_REGION=us-east-1",
		"AWS_LAMBDA_LOG_FORMAT=JSON") // as Lambda sets it for the template's LoggingConfig
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1\n%s", err, out.String())
	}
	var logged bool
	for sc := bufio.NewScanner(bytes.NewReader(out.Bytes())); sc.Scan(); {
		var line struct{ Message, Error string }
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Message == "start-up" && strings.Contains(line.Error, "AUDIT_TABLE") {
			logged = true
		}
	}
	if !logged {
		t.Errorf("no JSON start-up line naming AUDIT_TABLE in:\n%s", out.String())
	}
}
