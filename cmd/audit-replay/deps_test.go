package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The replay runs against AWS's dead-letter queue and stream: what it knows
// of Lambda's documents, filtering and records comes from shared/, so no
// change to the emulator can change it.
func TestLinksNoLocalPackage(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatal("go list named no packages")
	}
	for _, d := range deps {
		if strings.HasPrefix(d, "github.com/flowella/apikeys/local/") {
			t.Errorf("links %s, a package of the local stack", d)
		}
	}
}
