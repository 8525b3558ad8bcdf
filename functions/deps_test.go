// Package functions_test checks what each Lambda function links: the tree
// should show what is deployed, and a function should carry nothing it does
// not use.
package functions_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// What only the local stack, the tests or a command may use: no function
// links a package under these prefixes, nor these packages.
var (
	localOnlyPrefixes = []string{"github.com/flowella/apikeys/local/"}
	localOnly         = []string{
		"github.com/flowella/apikeys/functions", // the registry links every function's code
		"github.com/flowella/apikeys/shared/settingsui",
		"github.com/flowella/apikeys/shared/samtemplate",       // the template is read by the stack and the tools, not by what it deploys
		"github.com/flowella/apikeys/shared/streamsclient",     // Lambda reads the streams; a function only gets their records
		"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams", // the client; its types come with attributevalue
	}
)

// Packages a function may link only when it does what they are for.
var onlyFor = map[string][]string{
	"github.com/golang-jwt/jwt/v5":                        {"authorizer"}, // verifies session tokens
	"github.com/MicahParks/keyfunc/v3":                    {"authorizer"},
	"github.com/MicahParks/jwkset":                        {"authorizer"},
	"github.com/aws/aws-sdk-go-v2/service/ssm":            {"authorizer"}, // reads the session secret
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager": {"authorizer"},
}

func TestFunctionsLinkOnlyWhatTheyUse(t *testing.T) {
	dirs, err := filepath.Glob("*/main.go")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no functions found: %v", err)
	}
	for _, main := range dirs {
		fn := filepath.Dir(main)
		t.Run(fn, func(t *testing.T) {
			cmd := exec.Command("go", "list", "-deps", "./"+fn)
			cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0", "GOFLAGS=-tags=lambda.norpc")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list: %v", err)
			}
			deps := strings.Fields(string(out))
			for _, d := range deps {
				if slices.Contains(localOnly, d) || slices.ContainsFunc(localOnlyPrefixes, func(p string) bool { return strings.HasPrefix(d, p) }) {
					t.Errorf("links %s, which only the local stack and the tools may use", d)
				}
			}
			for p, allowed := range onlyFor {
				if slices.Contains(deps, p) && !slices.Contains(allowed, fn) {
					t.Errorf("links %s, which only %v need", p, allowed)
				}
			}
		})
	}
}
