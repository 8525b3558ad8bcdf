package localiam

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/flowella/apikeys/shared/samtemplate"
)

// Enforcer holds the template's functions to their roles.
type Enforcer struct {
	roles    map[string]*Role
	build    requestBuilder
	rec      *Recorder
	condKeys map[string]bool // condition keys some role's statements use
	log      *slog.Logger

	mu        sync.Mutex
	iterators map[string]shardRef // shard iterator → the shard it reads
	latest    map[shardRef]string // shard → its newest iterator, so that the map stays one entry a shard
}

type shardRef struct{ stream, shard string }

// New reads the roles of the template's functions. Every DynamoDB call of a
// client built with DynamoDB(fn) is then checked against fn's role, and
// recorded in rec (which may be nil). Denied calls are logged on log when
// it is not nil.
func New(tpl *samtemplate.Template, env Env, rec *Recorder, log *slog.Logger) (*Enforcer, error) {
	roles, err := Roles(tpl, env)
	if err != nil {
		return nil, err
	}
	inputs, err := tpl.Tables(env.TableName)
	if err != nil {
		return nil, err
	}
	e := &Enforcer{roles: roles, rec: rec, log: log, condKeys: map[string]bool{},
		iterators: map[string]shardRef{}, latest: map[shardRef]string{},
		build: requestBuilder{region: env.region(), tables: map[string]tableInfo{}}}
	for id, in := range inputs {
		info := tableInfo{logical: id, hashKey: hashKey(in.KeySchema), indexKey: map[string]string{}}
		for _, g := range in.GlobalSecondaryIndexes {
			info.indexKey[*g.IndexName] = hashKey(g.KeySchema)
		}
		for _, l := range in.LocalSecondaryIndexes {
			info.indexKey[*l.IndexName] = hashKey(l.KeySchema)
		}
		e.build.tables[*in.TableName] = info
	}
	for _, r := range roles {
		for _, s := range r.Policy.Statements {
			for _, c := range s.Conditions {
				e.condKeys[c.Key] = true
			}
		}
	}
	return e, nil
}

func hashKey(schema []types.KeySchemaElement) string {
	for _, k := range schema {
		if k.KeyType == types.KeyTypeHash && k.AttributeName != nil {
			return *k.AttributeName
		}
	}
	return ""
}

// Role returns fn's role; a name the template does not have gets a role
// that allows nothing.
func (e *Enforcer) Role(fn string) *Role {
	if r, ok := e.roles[fn]; ok {
		return r
	}
	return &Role{Function: fn, Name: fn + "Role"}
}

// DynamoDB is a client option that holds the client to fn's role:
//
//	dynamodb.New(shared.Options(), enforcer.DynamoDB("RevokeKeyFunction"))
func (e *Enforcer) DynamoDB(fn string) func(*dynamodb.Options) {
	return func(o *dynamodb.Options) {
		// Clip: clients built from one Options must not share appends.
		o.APIOptions = append(slices.Clip(o.APIOptions), e.stackOption(fn, func(params any) ([]check, error) {
			return e.build.dynamoChecks(params)
		}))
	}
}

// Streams is the same for a DynamoDB Streams client, as the function's
// event source mapping reads the stream with the function's role.
func (e *Enforcer) Streams(fn string) func(*dynamodbstreams.Options) {
	return func(o *dynamodbstreams.Options) {
		o.APIOptions = append(slices.Clip(o.APIOptions), e.stackOption(fn, func(params any) ([]check, error) {
			var stream string
			if in, ok := params.(*dynamodbstreams.GetRecordsInput); ok && in.ShardIterator != nil {
				e.mu.Lock()
				stream = e.iterators[*in.ShardIterator].stream
				e.mu.Unlock()
			}
			return e.build.streamChecks(params, stream)
		}))
	}
}

func (e *Enforcer) stackOption(fn string, checks func(any) ([]check, error)) func(*middleware.Stack) error {
	role := e.Role(fn)
	return func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("LocalIAM",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				cs, err := checks(in.Parameters)
				if err != nil {
					return middleware.InitializeOutput{}, middleware.Metadata{}, err
				}
				for _, c := range cs {
					d := role.Policy.Evaluate(c.Request)
					e.record(role, c, d)
					if d != Allowed {
						return middleware.InitializeOutput{}, middleware.Metadata{}, accessDenied(role, c, d)
					}
				}
				out, md, err := next.HandleInitialize(ctx, in)
				if err == nil {
					e.trackIterators(in.Parameters, out.Result)
				}
				return out, md, err
			}), middleware.After)
	}
}

// trackIterators remembers which stream each shard iterator reads, so that
// GetRecords, which names only the iterator, is checked on its stream.
func (e *Enforcer) trackIterators(params, result any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	set := func(ref shardRef, it *string) {
		delete(e.iterators, e.latest[ref])
		delete(e.latest, ref)
		if it != nil {
			e.iterators[*it], e.latest[ref] = ref, *it
		}
	}
	switch out := result.(type) {
	case *dynamodbstreams.GetShardIteratorOutput:
		in, _ := params.(*dynamodbstreams.GetShardIteratorInput)
		if in != nil && in.StreamArn != nil && in.ShardId != nil {
			set(shardRef{*in.StreamArn, *in.ShardId}, out.ShardIterator)
		}
	case *dynamodbstreams.GetRecordsOutput:
		in, _ := params.(*dynamodbstreams.GetRecordsInput)
		if in == nil || in.ShardIterator == nil {
			return
		}
		if ref, ok := e.iterators[*in.ShardIterator]; ok {
			delete(e.iterators, *in.ShardIterator)
			set(ref, out.NextShardIterator)
		}
	}
}

func (e *Enforcer) record(role *Role, c check, d Decision) {
	if d != Allowed && e.log != nil {
		e.log.Warn("IAM denied a DynamoDB call: the function's role in template.yaml does not allow it",
			"function", role.Function, "action", c.Action, "resource", c.Resource, "decision", d.String())
	}
	if e.rec == nil {
		return
	}
	resource := c.Resource
	if info, ok := e.build.tables[c.table]; ok {
		resource = strings.Replace(resource, ":table/"+c.table, ":table/"+info.logical, 1)
	}
	// DynamoDB Local labels each table's stream with its creation time; the
	// template names the stream by its table alone.
	if i := strings.Index(resource, "/stream/"); i >= 0 {
		resource = resource[:i] + "/stream/{label}"
	}
	var ctx map[string][]string
	for k, v := range c.Context {
		if e.condKeys[k] {
			if ctx == nil {
				ctx = map[string][]string{}
			}
			ctx[k] = v
		}
	}
	e.rec.add(Call{Function: role.Function, Action: c.Action, Resource: resource, LocalResource: c.Resource,
		Allowed: d == Allowed, Context: ctx})
}

var deniedRequests atomic.Int64

// accessDenied is the error DynamoDB answers a call with when the caller's
// role does not allow it, as the SDK surfaces it.
func accessDenied(role *Role, c check, d Decision) error {
	why := "because no identity-based policy allows the " + c.Action + " action"
	if d == ExplicitDeny {
		why = "with an explicit deny in an identity-based policy"
	}
	msg := fmt.Sprintf("User: arn:aws:sts::%s:assumed-role/%s/%s is not authorized to perform: %s on resource: %s %s",
		Account, role.Name, role.Function, c.Action, c.Resource, why)
	id := fmt.Sprintf("LOCALIAM%020d", deniedRequests.Add(1))
	resp := &http.Response{StatusCode: http.StatusBadRequest, Header: http.Header{"X-Amzn-Requestid": {id}}}
	return &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: resp},
			Err:      &smithy.GenericAPIError{Code: "AccessDeniedException", Message: msg, Fault: smithy.FaultClient},
		},
		RequestID: id,
	}
}
