package principal_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// goList lists the packages pkg links that are not in the standard library.
func goList(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

// Every function links principal, so it stays the standard library alone;
// the authorizer writes the contract through it, not through the backends'
// HTTP helpers.
func TestDependencies(t *testing.T) {
	const self = "github.com/flowella/apikeys/shared/principal"
	if deps := goList(t, "."); !slices.Equal(deps, []string{self}) {
		t.Errorf("principal links more than the standard library: %v", deps)
	}
	deps := goList(t, "../authorizer")
	if !slices.Contains(deps, self) {
		t.Error("the authorizer does not link principal")
	}
	if slices.Contains(deps, "github.com/flowella/apikeys/shared/httpapi") {
		t.Error("the authorizer links httpapi; it writes its context with principal.Encode")
	}
}
