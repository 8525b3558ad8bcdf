package localstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/flowella/apikeys/local/dynamofault"
	"github.com/flowella/apikeys/local/localfn"
	"github.com/flowella/apikeys/local/localgw"
	"github.com/flowella/apikeys/local/localiam"
	"github.com/flowella/apikeys/local/locallogs"
	"github.com/flowella/apikeys/local/localstream"
	"github.com/flowella/apikeys/shared/authz"
	"github.com/flowella/apikeys/shared/samtemplate"
)

// Config describes one local stack.
type Config struct {
	Template   *samtemplate.Template
	DB         *dynamodb.Client
	TableName  func(logicalID string) string // local name of a table
	Parameters map[string]string             // template parameter overrides
	AccessLog  io.Writer
	Log        *slog.Logger
	// IAMRecorder receives every IAM check of the functions' DynamoDB calls;
	// nil records into the file LOCAL_IAM_RECORD names (in memory when unset).
	IAMRecorder *localiam.Recorder
	// Faults injects DynamoDB's transaction conflicts, throttling and index
	// lag into the functions' clients; nil takes LOCAL_DYNAMODB_FAULTS (none
	// when unset). See faults.go.
	Faults *dynamofault.Injector
	// LogSubscriptionsOff leaves the template's log subscription filters
	// out (key activity is then not recorded); see logs.go.
	LogSubscriptionsOff bool
}

// Stack is the built system: the HTTP gateway and the functions, each run
// as Lambda runs it (one event per execution environment at a time).
type Stack struct {
	Gateway  *localgw.Gateway
	Handlers map[string]*localfn.Function // by logical id
	// IAM holds each function's DynamoDB (and stream) calls to its role in
	// the template, as AWS does.
	IAM *localiam.Enforcer
	// Faults is the DynamoDB fault injector of the functions' clients (nil
	// for none).
	Faults *dynamofault.Injector
	// Logs are the log groups the template subscribes functions to (the
	// access log, the authorizer's); Logs.Run delivers them. See logs.go.
	Logs *locallogs.Logs
	logs logWiring
	cfg  Config
}

// Build creates every function's handler with its template environment and
// the gateway's routes from the template's Api events. Routes of the scope
// map that no template function serves get the stand-in Flowella API.
func Build(ctx context.Context, cfg Config) (*Stack, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	tpl := cfg.Template
	s := &Stack{Handlers: map[string]*localfn.Function{}, cfg: cfg}
	if cfg.IAMRecorder == nil {
		rec, err := localiam.RecorderFromEnv()
		if err != nil {
			return nil, err
		}
		cfg.IAMRecorder = rec
	}
	iam, err := localiam.New(tpl, localiam.Env{Region: cfg.DB.Options().Region, TableName: cfg.TableName, Parameters: cfg.Parameters},
		cfg.IAMRecorder, cfg.Log)
	if err != nil {
		return nil, fmt.Errorf("template roles: %w", err)
	}
	s.IAM = iam
	if s.Faults, err = faultInjector(cfg); err != nil {
		return nil, err
	}
	if err := s.readLogWiring(); err != nil {
		return nil, err
	}
	for _, fn := range tpl.Functions() {
		env, err := tpl.Environment(fn, cfg.Parameters, cfg.TableName)
		if err != nil {
			return nil, err
		}
		// Each function gets its own client, held to its role.
		db := dynamodb.New(cfg.DB.Options(), iam.DynamoDB(fn), s.Faults.Option())
		h, err := build(ctx, fn, env, db, s.functionLog(fn))
		if err != nil {
			return nil, err
		}
		props, _ := tpl.Function(fn)
		s.Handlers[fn] = localfn.New(fn, h, props.ReservedConcurrentExecutions)
	}
	if err := s.subscribe(); err != nil {
		return nil, err
	}
	apiRoutes, err := tpl.APIRoutes()
	if err != nil {
		return nil, err
	}
	var routes []localgw.Route
	served := map[string]bool{}
	keyAuthorizer, api := "", ""
	for _, r := range apiRoutes {
		if api == "" {
			api = r.API
		} else if r.API != api {
			return nil, fmt.Errorf("template: routes on two APIs (%s, %s); the local gateway serves one", api, r.API)
		}
		route := localgw.Route{Method: r.Method, Resource: r.Path, Function: r.Function, Handler: s.Handlers[r.Function]}
		if r.Authorizer != "" {
			if ttl := tpl.AuthorizerCacheTTL(r.API, r.AuthName); ttl != 0 {
				cfg.Log.Warn("template caches authorizer results; the local stack never does", "ttl", ttl)
			}
			route.Authorizer = s.Handlers[r.Authorizer]
			keyAuthorizer = r.Authorizer
		}
		routes = append(routes, route)
		served[r.Method+" "+normalize(r.Path)] = true
	}
	if keyAuthorizer == "" {
		return nil, errors.New("template: no route has an authorizer")
	}
	standins, err := standinRoutes(cfg, served, s.Handlers[keyAuthorizer])
	if err != nil {
		return nil, err
	}
	routes = append(routes, standins...)
	responses, err := tpl.GatewayResponses(api)
	if err != nil {
		return nil, err
	}
	s.Gateway = localgw.New(routes, localgw.API{Responses: responses, AccessLogFormat: tpl.AccessLogFormat(api)}, s.accessLog(cfg.AccessLog, api), cfg.Log)
	return s, nil
}

// normalize turns every {param} into {} so paths compare by shape.
func normalize(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") {
			segs[i] = "{}"
		}
	}
	return strings.Join(segs, "/")
}

func standinRoutes(cfg Config, served map[string]bool, auth *localfn.Function) ([]localgw.Route, error) {
	catalog, err := authz.Load()
	if err != nil {
		return nil, err
	}
	var out []localgw.Route
	for _, r := range catalog.Routes {
		if r.Auth != authz.AuthAPIKey || served[r.Method+" "+normalize(r.Path)] {
			continue
		}
		out = append(out, localgw.Route{Method: r.Method, Resource: r.Path, Function: "StandinFlowellaAPI",
			Handler: localfn.New("StandinFlowellaAPI", standin(r), 0), Authorizer: auth})
	}
	return out, nil
}

// ServeHTTP serves the gateway.
func (s *Stack) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.Gateway.ServeHTTP(w, r) }

// CreateTables creates the template's tables that do not exist yet.
func CreateTables(ctx context.Context, db *dynamodb.Client, tpl *samtemplate.Template, name func(string) string) error {
	inputs, err := tpl.Tables(name)
	if err != nil {
		return err
	}
	for id, in := range inputs {
		_, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: in.TableName})
		var nf *types.ResourceNotFoundException
		if err == nil {
			continue
		}
		if !errors.As(err, &nf) {
			return fmt.Errorf("describe table %s: %w", id, err)
		}
		if _, err := db.CreateTable(ctx, in); err != nil {
			return fmt.Errorf("create table %s (%s): %w", id, aws.ToString(in.TableName), err)
		}
	}
	return nil
}

// StreamOptions say where stream delivery keeps its state.
type StreamOptions struct {
	Streams       localstream.Streams
	CheckpointDir string    // "" keeps no checkpoints (start from the stream's oldest record)
	DeadLetter    io.Writer // batches that exhaust their retries
	Interval      time.Duration
}

// Pollers builds one stream poller per DynamoDB event source in the template.
func (s *Stack) Pollers(opts StreamOptions) ([]*localstream.Poller, error) {
	mappings, err := s.cfg.Template.StreamMappings()
	if err != nil {
		return nil, err
	}
	var out []*localstream.Poller
	for _, m := range mappings {
		// The event source mapping reads the stream with the function's role.
		streams := opts.Streams
		if c, ok := streams.(*dynamodbstreams.Client); ok {
			streams = dynamodbstreams.New(c.Options(), s.IAM.Streams(m.Function))
		}
		p := &localstream.Poller{
			Streams:    streams,
			Tables:     s.cfg.DB,
			TableName:  s.cfg.TableName(m.Table),
			Mapping:    m,
			Handler:    s.Handlers[m.Function],
			DeadLetter: opts.DeadLetter,
			Log:        s.cfg.Log,
			Interval:   opts.Interval,
		}
		if opts.CheckpointDir != "" {
			p.Checkpoint = filepath.Join(opts.CheckpointDir, "stream-"+m.Function+".json")
		}
		out = append(out, p)
	}
	return out, nil
}
