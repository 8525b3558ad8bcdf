// Command bench measures what issue 9 asks of the system's speed and size,
// each figure as a ratio to a baseline measured in the same run, and
// rewrites the generated section of BENCHMARKS.md (`make bench`):
//
//   - the authorizer's Lambda path against one bare GetItem (p50, p99),
//     and allocations per call;
//   - `make run`'s GET /v1/whoami against the bare GetItem's throughput,
//     with 1 and 8 clients;
//   - each function's bootstrap size, and its cold start under
//     aws-lambda-rie, against a hello-world Lambda built the same way.
//
// Run it under scripts/dynamodb-local.sh run -- (the authorizer's figures
// and the cold starts use that DynamoDB Local). -only picks figures.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"time"
)

func main() {
	only := flag.String("only", strings.Join(allFigures, ","), "figures to measure: authorizer, whoami, binaries (sizes and cold starts)")
	write := flag.String("write", "", "rewrite the generated section of this file (BENCHMARKS.md)")
	samples := flag.Int("samples", 3000, "authorizer: calls of each kind measured")
	requests := flag.Int("requests", 2000, "whoami: requests of each kind per client count and round")
	rounds := flag.Int("rounds", 3, "whoami: alternating rounds of whoami and GetItem")
	starts := flag.Int("starts", 5, "cold start: starts of each bootstrap")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the bench process")
	flag.Parse()
	if err := run(*only, *write, *samples, *requests, *rounds, *starts, *cpuprofile); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// allFigures are what -only may name.
var allFigures = []string{"authorizer", "whoami", "binaries"}

func run(only, write string, samples, requests, rounds, starts int, cpuprofile string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	want := map[string]bool{}
	for _, w := range strings.Split(only, ",") {
		want[strings.TrimSpace(w)] = true
	}
	for w := range want {
		if !slices.Contains(allFigures, w) {
			return fmt.Errorf("-only: unknown figure %q (figures: %s)", w, strings.Join(allFigures, ", "))
		}
	}
	if write != "" && len(want) != len(allFigures) {
		// The section is written whole: a partial run would drop the others.
		return errors.New("-write needs every figure: leave -only out")
	}
	var sections []string
	if want["authorizer"] {
		fmt.Fprintln(os.Stderr, "bench: authorizer against GetItem …")
		f, err := authorizerBench(ctx, root, samples)
		if err != nil {
			return fmt.Errorf("authorizer: %w", err)
		}
		sections = append(sections, f.markdown())
	}
	if want["whoami"] {
		fmt.Fprintln(os.Stderr, "bench: make run whoami against GetItem …")
		f, err := whoamiBench(ctx, root, requests, rounds, false)
		if err != nil {
			return fmt.Errorf("whoami: %w", err)
		}
		sections = append(sections, f.markdown())
		// The same with key activity off: what recording costs this
		// machine, and what is left without it.
		fmt.Fprintln(os.Stderr, "bench: make run whoami against GetItem, key activity off …")
		off, err := whoamiBench(ctx, root, requests, rounds, true)
		if err != nil {
			return fmt.Errorf("whoami, key activity off: %w", err)
		}
		sections = append(sections, off.markdown())
	}
	if want["binaries"] {
		fmt.Fprintln(os.Stderr, "bench: bootstrap sizes and cold starts …")
		f, err := binariesBench(ctx, root, starts)
		if err != nil {
			return fmt.Errorf("binaries: %w", err)
		}
		sections = append(sections, f.markdown())
	}
	section := "## Speed and size, against baselines measured in the same run\n\n" +
		fmt.Sprintf("Written by `make bench` on %s; every figure is a ratio to a baseline measured in the same run,\n"+
			"side by side, so the machine's load affects both.\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC")) +
		strings.Join(sections, "\n")
	fmt.Println(section)
	if write == "" {
		return nil
	}
	path := write
	if !filepath.IsAbs(path) {
		path = filepath.Join(root, path)
	}
	doc, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := splice(string(doc), section)
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(out), 0o644)
}

// moduleRoot is the directory above the working directory holding go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "template.yaml")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("run from inside the repository: no template.yaml above %s", dir)
		}
		dir = parent
	}
}

// loadAverage is the machine's 1-, 5- and 15-minute load now.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], ", ")
}
