package functions_test

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"maps"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/flowella/apikeys/functions"
	"github.com/flowella/apikeys/shared/lambdafn"
	"github.com/flowella/apikeys/shared/samtemplate"
)

const lambdafnPath = "github.com/flowella/apikeys/shared/lambdafn"

func loadTemplate(t *testing.T) *samtemplate.Template {
	t.Helper()
	tpl, err := samtemplate.Load("../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

// Every template function has a builder, and every builder a template
// function: the local stack builds each one, and no builder is left over.
func TestEveryTemplateFunctionHasABuilder(t *testing.T) {
	fns := loadTemplate(t).Functions()
	if len(fns) == 0 {
		t.Fatal("template.yaml has no functions")
	}
	ids := functions.LogicalIDs()
	for _, fn := range fns {
		if !slices.Contains(ids, fn) {
			t.Errorf("template function %s has no builder in package functions", fn)
		}
	}
	for _, id := range ids {
		if !slices.Contains(fns, id) {
			t.Errorf("builder %s has no function in template.yaml", id)
		}
	}
}

// buildTargets maps each functions/<name> directory to the logical id whose
// build-<LogicalId> target in the Makefile builds it (sam build runs those).
func buildTargets(t *testing.T) map[string]string {
	t.Helper()
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	target := regexp.MustCompile(`(?m)^build-(\w+):\n\t\$\(LAMBDA_BUILD\) \./functions/([\w-]+)[ \t]*$`)
	dirs := map[string]string{}
	for _, m := range target.FindAllStringSubmatch(string(mk), -1) {
		if prev, ok := dirs[m[2]]; ok {
			t.Errorf("functions/%s is built by build-%s and build-%s", m[2], prev, m[1])
		}
		dirs[m[2]] = m[1]
	}
	return dirs
}

// Each functions/<name>/main.go is one call, lambdafn.Main, with exactly the
// builder registered for the logical id that its build target serves: what
// Lambda runs is what the local stack builds.
func TestEachMainRunsItsRegisteredBuilder(t *testing.T) {
	dirs := buildTargets(t)
	targeted := map[string]bool{}
	for _, id := range dirs {
		targeted[id] = true
	}
	for _, fn := range loadTemplate(t).Functions() {
		if !targeted[fn] {
			t.Errorf("template function %s has no build-%s target building a functions/ directory", fn, fn)
		}
	}
	mains, err := filepath.Glob("*/main.go")
	if err != nil || len(mains) == 0 {
		t.Fatalf("no functions found: %v", err)
	}
	for dir := range dirs {
		if !slices.Contains(mains, dir+"/main.go") {
			t.Errorf("the Makefile builds functions/%s, which has no main.go", dir)
		}
	}
	for _, main := range mains {
		dir := filepath.Dir(main)
		t.Run(dir, func(t *testing.T) {
			id, ok := dirs[dir]
			if !ok {
				t.Fatalf("no build-<LogicalId> target in the Makefile builds functions/%s", dir)
			}
			b, ok := functions.Builder(id)
			if !ok {
				t.Fatalf("%s has no builder in package functions", id)
			}
			want := runtime.FuncForPC(reflect.ValueOf(b).Pointer()).Name()
			if got := mainBuilder(t, main); got != want {
				t.Errorf("main.go runs lambdafn.Main(%s); %s's builder is %s", got, id, want)
			}
		})
	}
}

// mainBuilder returns the builder main.go passes to lambdafn.Main, as
// "<import path>.<name>", and fails unless that call is all main.go does.
func mainBuilder(t *testing.T, file string) string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	imports := map[string]string{}
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		name := path.Base(p)
		if imp.Name != nil {
			name = imp.Name.Name
		}
		imports[name] = p
	}
	var body []ast.Stmt
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.GenDecl:
			if d.Tok != token.IMPORT {
				t.Fatalf("declares %s: main.go is only lambdafn.Main(<builder>)", d.Tok)
			}
		case *ast.FuncDecl:
			if d.Name.Name != "main" || d.Recv != nil {
				t.Fatalf("declares func %s: main.go is only lambdafn.Main(<builder>)", d.Name.Name)
			}
			body = d.Body.List
		}
	}
	if len(body) != 1 {
		t.Fatalf("main has %d statements, want the one call lambdafn.Main(<builder>)", len(body))
	}
	call, _ := exprOf(body[0]).(*ast.CallExpr)
	if call == nil || qualified(call.Fun, imports) != lambdafnPath+".Main" || len(call.Args) != 1 {
		t.Fatal("main is not lambdafn.Main(<builder>)")
	}
	got := qualified(call.Args[0], imports)
	if got == "" {
		t.Fatal("lambdafn.Main's argument is not a builder of a shared package (<package>.<Builder>)")
	}
	if len(imports) != 2 {
		t.Errorf("imports %d packages, want lambdafn and the builder's", len(imports))
	}
	return got
}

func exprOf(s ast.Stmt) ast.Expr {
	if e, ok := s.(*ast.ExprStmt); ok {
		return e.X
	}
	return nil
}

// qualified returns "<import path>.<name>" for a selector pkg.Name on an
// imported package, and "" for anything else.
func qualified(e ast.Expr, imports map[string]string) string {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok {
		return ""
	}
	pkg, ok := sel.X.(*ast.Ident)
	if !ok || imports[pkg.Name] == "" {
		return ""
	}
	return imports[pkg.Name] + "." + sel.Sel.Name
}

// Each builder, given its template environment, builds; reads no variable
// the template does not set for it, and every table the template gives it
// alone; and refuses to build when a table it reads is empty, naming it: a
// function requires what its template entry gives it, at start-up, not on
// its first request.
func TestBuildersRequireWhatTheTemplateGives(t *testing.T) {
	tpl := loadTemplate(t)
	db := dynamodb.New(dynamodb.Options{Region: "us-east-1"}) // builders make no call
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	build := func(ctx context.Context, id string, env map[string]string) (read []string, h any, err error) {
		b, _ := functions.Builder(id)
		getenv := func(k string) string {
			if !slices.Contains(read, k) {
				read = append(read, k)
			}
			return env[k]
		}
		h, err = b(ctx, lambdafn.Env{Getenv: getenv, AWS: aws.Config{Region: "us-east-1"}, DB: db, Log: quiet})
		return read, h, err
	}
	for _, id := range functions.LogicalIDs() {
		t.Run(id, func(t *testing.T) {
			env, err := tpl.Environment(id, map[string]string{"SessionHS256Secret": "template-test-secret-0123456789abcdef"},
				func(logicalID string) string { return "local-" + logicalID })
			if err != nil {
				t.Fatal(err)
			}
			read, h, err := build(t.Context(), id, env)
			if err != nil {
				t.Fatalf("does not build with its template environment: %v", err)
			}
			if _, ok := h.(lambda.Handler); h == nil || (!ok && reflect.TypeOf(h).Kind() != reflect.Func) {
				t.Fatalf("handler is %T, want a function or a lambda.Handler, as lambda.Start accepts", h)
			}
			for _, k := range read {
				if _, ok := env[k]; !ok {
					t.Errorf("reads %s, which template.yaml does not set for %s", k, id)
				}
			}
			// The tables the template gives this function alone (Globals
			// give KEYS_TABLE and ORGS_TABLE to all, whoami included).
			for k := range env {
				if _, global := tpl.Globals.Function.Environment.Variables[k]; strings.HasSuffix(k, "_TABLE") && !global && !slices.Contains(read, k) {
					t.Errorf("template.yaml gives %s %s, which its builder does not read", id, k)
				}
			}
			for _, k := range read {
				if !strings.HasSuffix(k, "_TABLE") {
					continue
				}
				without := maps.Clone(env)
				without[k] = ""
				if _, _, err := build(t.Context(), id, without); err == nil || !strings.Contains(err.Error(), k) {
					t.Errorf("with %s empty: err = %v, want one naming %s", k, err, k)
				}
			}
		})
	}
}
