// Command local runs the whole system on this machine with no AWS account
// and no Docker: DynamoDB Local with data kept on disk, the tables, routes,
// authorizer and stream wiring of template.yaml, seeded demo organisations,
// and an HTTP server on 127.0.0.1:$PORT (3000). `make run` starts it;
// Ctrl-C or SIGTERM stops everything it started.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/flowella/apikeys/local/ddblocal"
	"github.com/flowella/apikeys/local/localsite"
	"github.com/flowella/apikeys/local/localstack"
	"github.com/flowella/apikeys/shared/dynamo"
	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/samtemplate"
	"github.com/flowella/apikeys/shared/streamevents"
	"github.com/flowella/apikeys/shared/streamsclient"
)

// demoOrgs are created on start when they do not exist yet; an existing
// one keeps the plan and features make org gave it.
var demoOrgs = []struct {
	id, plan string
	features []string
}{
	{"org_demo", "paid", []string{"audit_log"}},
	{"org_hobby", "hobby", nil},
}

func main() {
	setupOnly := flag.Bool("setup-only", false, "create the tables and seed the demo organisations on $DYNAMODB_ENDPOINT, then exit (for sam local)")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	slog.SetDefault(log)
	if *setupOnly {
		if err := setupOnlyRun(); err != nil {
			log.Error("setup failed", "error", err.Error())
			os.Exit(1)
		}
		return
	}
	if err := run(log); err != nil {
		log.Error("local stack stopped", "error", err.Error())
		os.Exit(1)
	}
}

func getenv(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func run(log *slog.Logger) error {
	started := time.Now()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	root, err := os.Getwd()
	if err != nil {
		return err
	}
	tpl, err := samtemplate.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		return fmt.Errorf("run from the repository root: %w", err)
	}
	addr := "127.0.0.1:" + getenv("PORT", "3000")
	dataDir := getenv("FLOWELLA_DATA_DIR", filepath.Join(root, ".local", "data"))
	activityOff, err := keyActivityOff(os.Getenv)
	if err != nil {
		return err
	}
	// Claim the port first: a busy port is the most common start-up failure.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s (set PORT to use another port): %w", addr, err)
	}
	defer ln.Close()

	sessionParams, err := sessionParameters(root, os.Getenv, log)
	if err != nil {
		return err
	}

	jar, err := ddblocal.InstallJar(ctx, root)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	ddbLog, err := os.OpenFile(filepath.Join(dataDir, "dynamodb-local.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer ddbLog.Close()
	ddb, err := ddblocal.Start(ctx, jar, filepath.Join(dataDir, "dynamodb"), ddbLog)
	if err != nil {
		return err
	}
	defer func() {
		ddb.Stop()
		log.Info("DynamoDB Local stopped", "pid", ddb.PID())
	}()

	db, err := dynamo.NewWithEndpoint(ctx, ddb.Endpoint)
	if err != nil {
		return err
	}
	if err := setup(ctx, db, tpl); err != nil {
		return err
	}

	var accessLog io.Writer = os.Stdout
	if path := os.Getenv("ACCESS_LOG_FILE"); path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		accessLog = io.MultiWriter(os.Stdout, f)
	}
	stack, err := localstack.Build(ctx, localstack.Config{
		Template:  tpl,
		DB:        db,
		TableName: tableName,
		Parameters: withParameters(sessionParams, map[string]string{
			"DynamoDBEndpoint": ddb.Endpoint,
			"KeyEnvironment":   getenv("KEY_ENVIRONMENT", "test"),
			// The functions read the catalog the stand-in routes and the settings page read.
			"AuthzConfigFile": os.Getenv("AUTHZ_CONFIG_FILE"),
			// GitHub's secret scanning keys, or this stack's own test key (secretscan.go).
			"SecretScanningKeysUrl": secretScanningKeysURL(addr, os.Getenv),
		}),
		AccessLog:           accessLog,
		Log:                 log,
		LogSubscriptionsOff: activityOff,
	})
	if err != nil {
		return err
	}
	streams, err := streamsclient.New(ctx, ddb.Endpoint)
	if err != nil {
		return err
	}
	// The audit function's on-failure destination; make audit-replay reads
	// it and removes what it replayed.
	dlq := streamevents.DeadLetterFile{Path: filepath.Join(dataDir, "stream-dead-letters.jsonl")}
	pollers, err := stack.Pollers(localstack.StreamOptions{Streams: streams, CheckpointDir: dataDir, DeadLetter: dlq})
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	for _, p := range pollers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.Run(ctx); err != nil {
				log.Error("stream delivery stopped", "function", p.Mapping.Function, "error", err.Error())
			}
		}()
	}
	// The access log's and the authorizer's lines to the key activity
	// function, through the template's log subscription filters.
	wg.Add(1)
	go func() { defer wg.Done(); _ = stack.Logs.Run(ctx) }()
	defer wg.Wait()

	// Settings → API keys and its local-only sign-in, in front of the API (local/localsite).
	site, err := localsite.New(stack, localsite.Config{SessionSecret: sessionParams["SessionHS256Secret"],
		Issuer: sessionParams["SessionIssuer"], Audience: sessionParams["SessionAudience"], Log: log})
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: withScanningKeys(root, site), ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	banner(os.Stderr, addr, ddb.Endpoint, dataDir, getenv("KEY_ENVIRONMENT", "test"), time.Since(started))
	if activityOff {
		log.Warn("key activity is off (KEY_ACTIVITY=off): requests are not recorded, unlike in AWS; " +
			"it is there to measure what recording costs (make bench)")
	}

	select {
	case <-ctx.Done():
		log.Info("stopping")
	case err := <-serveErr:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

// tableName is a table's name in DynamoDB Local: its logical id.
func tableName(id string) string { return id }

// setup creates the template's tables and the demo organisations that do
// not exist yet.
func setup(ctx context.Context, db *dynamodb.Client, tpl *samtemplate.Template) error {
	if err := localstack.CreateTables(ctx, db, tpl, tableName); err != nil {
		return err
	}
	return seedDemoOrgs(ctx, keystore.New(db, tableName("KeysTable"), tableName("OrgsTable")))
}

// seedDemoOrgs creates the demo organisations missing from store.
func seedDemoOrgs(ctx context.Context, store *keystore.Store) error {
	for _, o := range demoOrgs {
		if _, err := store.SeedOrg(ctx, o.id, o.plan, o.features); err != nil {
			return err
		}
	}
	return nil
}

// setupOnlyRun prepares a DynamoDB Local that sam local's functions use.
func setupOnlyRun() error {
	endpoint := os.Getenv("DYNAMODB_ENDPOINT")
	if endpoint == "" {
		return errors.New("set DYNAMODB_ENDPOINT, e.g. http://127.0.0.1:8000")
	}
	ctx := context.Background()
	tpl, err := samtemplate.Load("template.yaml")
	if err != nil {
		return err
	}
	db, err := dynamo.NewWithEndpoint(ctx, endpoint)
	if err != nil {
		return err
	}
	if err := setup(ctx, db, tpl); err != nil {
		return err
	}
	fmt.Println("tables KeysTable, OrgsTable and AuditTable ready on", endpoint, "with org_demo and org_hobby")
	return nil
}

// banner says how to start; the sample key's prefix is the one this stack
// issues (KEY_ENVIRONMENT).
func banner(w io.Writer, addr, ddbEndpoint, dataDir, keyEnv string, took time.Duration) {
	base := "http://" + addr
	fmt.Fprintf(w, `
Flowella API keys: local stack ready in %.1fs
  API             %s
  Settings page   %[2]s/local/sign-in (sign in, then Settings → API keys)
  DynamoDB Local  %s (data in %s)
  Organisations   org_demo, org_hobby (made on the first start, paid and hobby; make org changes them)

Get a session token for an admin of org_demo:
  TOKEN=$(make -s token ORG=org_demo USER=u_1 ROLE=admin)
Create a key (the secret is shown once):
  curl -s -X POST %s/v1/api-keys -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' -d '{"label":"my first key","scopes":["messages:send"]}'
Try it:
  curl -s %s/v1/whoami -H "Authorization: Bearer flwl_%s_…"
Access log lines (JSON) go to stdout. Ctrl-C stops everything.

`, took.Seconds(), base, ddbEndpoint, dataDir, base, base, keyEnv)
}

// keyActivityOff reads KEY_ACTIVITY: "on" (the default) records every
// request's key activity through the template's log subscriptions, as AWS
// does; "off" leaves them out, so that make bench can show what recording
// costs this machine. Anything else is refused rather than guessed.
func keyActivityOff(getenv func(string) string) (bool, error) {
	switch v := getenv("KEY_ACTIVITY"); v {
	case "", "on":
		return false, nil
	case "off":
		return true, nil
	default:
		return false, fmt.Errorf("KEY_ACTIVITY=%q: want on (the default) or off", v)
	}
}
