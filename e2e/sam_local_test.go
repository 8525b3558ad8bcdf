package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/flowella/apikeys/shared/samtemplate"
)

// TestSamLocalEnvJSON holds env.json, the sample events and the README's
// "sam local" section to the template: `sam local --env-vars env.json` sets
// only the variables a function declares, and silently leaves out the rest,
// so each function's variables (Globals and its own) must all be in env.json
// (under Parameters or the function's logical id), with the tables `make
// seed` creates; its KEY_ENVIRONMENT must be the one of the sample events'
// keys; the README's token command must use env.json's session secret, say
// what each sample event does, and ask no one to edit a tracked file.
func TestSamLocalEnvJSON(t *testing.T) {
	root := repoRoot(t)
	tpl, err := samtemplate.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "env.json"))
	if err != nil {
		t.Fatal(err)
	}
	var envJSON map[string]map[string]string
	if err := json.Unmarshal(raw, &envJSON); err != nil {
		t.Fatalf("env.json: %v", err)
	}
	params := envJSON["Parameters"]

	declared := map[string]bool{} // every variable some function has
	for _, fn := range tpl.Functions() {
		props, _ := tpl.Function(fn)
		vars := map[string]any{}
		for k, v := range tpl.Globals.Function.Environment.Variables {
			vars[k] = v
		}
		for k, v := range props.Environment.Variables {
			vars[k] = v
		}
		for k, v := range vars {
			declared[k] = true
			got, ok := envJSON[fn][k]
			if !ok {
				got, ok = params[k]
			}
			if !ok {
				t.Errorf("env.json: %s's %s is missing (under Parameters or %s)", fn, k, fn)
				continue
			}
			// A !Ref to a table: the name make seed gives it, its logical id.
			if ref, _ := v.(map[string]any)["Ref"].(string); ref != "" {
				if r, isResource := tpl.Resources[ref]; isResource && r.Type == "AWS::DynamoDB::Table" && got != ref {
					t.Errorf("env.json: %s's %s is %q; make seed names that table %q", fn, k, got, ref)
				}
			}
		}
		for k := range envJSON[fn] {
			if _, ok := vars[k]; !ok {
				t.Errorf("env.json: %s.%s is not in the template's environment for %s: sam local ignores it", fn, k, fn)
			}
		}
	}
	functions := map[string]bool{"Parameters": true}
	for _, fn := range tpl.Functions() {
		functions[fn] = true
	}
	for section := range envJSON {
		if !functions[section] {
			t.Errorf("env.json: %q is not a function of the template", section)
		}
	}
	for k := range params {
		if !declared[k] {
			t.Errorf("env.json: Parameters.%s is no function's variable: sam local ignores it", k)
		}
	}

	// The sample events' keys are of env.json's KEY_ENVIRONMENT.
	env := params["KEY_ENVIRONMENT"]
	samples, _ := filepath.Glob(filepath.Join(root, "events", "*.json"))
	if len(samples) == 0 {
		t.Fatal("no events/*.json")
	}
	keyEnv := regexp.MustCompile(`flwl_(live|test)_`)
	for _, p := range samples {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range keyEnv.FindAllStringSubmatch(string(b), -1) {
			if m[1] != env {
				t.Errorf("%s carries a flwl_%s_ key; env.json's KEY_ENVIRONMENT is %q", filepath.Base(p), m[1], env)
				break
			}
		}
	}

	// The README's sam local section.
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## sam local")
	if !ok {
		t.Fatal("README.md has no ## sam local section")
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	if secret := envJSON["AuthorizerFunction"]["SESSION_HS256_SECRET"]; secret == "" ||
		!strings.Contains(section, "SESSION_HS256_SECRET="+secret+" make -s token") {
		t.Errorf("README.md, sam local: the token is not minted with env.json's SESSION_HS256_SECRET %q", secret)
	}
	if !strings.Contains(section, `"Authorization: Bearer $TOKEN"`) {
		t.Error("README.md, sam local: the minted TOKEN is never used")
	}
	var unnamed []string
	for _, p := range samples {
		if !strings.Contains(section, "`"+filepath.Base(p)+"`") {
			unnamed = append(unnamed, filepath.Base(p))
		}
	}
	sort.Strings(unnamed)
	if len(unnamed) > 0 {
		t.Errorf("README.md, sam local: says nothing of %s (accepted, or refused and why)", strings.Join(unnamed, ", "))
	}
	if !strings.Contains(section, "refused, on purpose") {
		t.Error("README.md, sam local: does not say which sample events are refused")
	}
	// No instruction to edit a tracked file: env.json is overridden by a
	// copy in the git-ignored .local/ or by sam's options.
	if m := regexp.MustCompile(`(?i)\b(replace|edit|change)\s[\s\S]{0,60}?\benv\.json`).FindString(section); m != "" {
		t.Errorf("README.md, sam local: asks to edit a tracked file: %q", m)
	}
}
