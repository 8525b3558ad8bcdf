// Command audit-replay reprocesses the audit function's dead-lettered stream
// batches. Each dead-letter entry names a shard and a sequence range of the
// keys table's stream (Lambda sends nothing more); for each, it reads those
// records from the stream, hands them to the audit function's handler, and
// only then deletes the entry. Audit records that exist already add nothing,
// so a second run, or a range that was partly audited, is harmless.
//
//	make audit-replay                         # the local stack (make run must be running)
//	AUDIT_DLQ_URL=https://sqs… AUDIT_TABLE=… make audit-replay   # AWS
//
// In AWS, AUDIT_DLQ_URL and AUDIT_TABLE are the stack's AuditDeadLetterQueueUrl
// and AuditTableName outputs. It exits 1 when an entry could not be replayed
// (the entry is kept), in particular when its records have left the stream,
// 24 hours after they were written.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/flowella/apikeys/shared/audit"
	"github.com/flowella/apikeys/shared/dynamo"
	"github.com/flowella/apikeys/shared/samtemplate"
	"github.com/flowella/apikeys/shared/streamevents"
	"github.com/flowella/apikeys/shared/streamsclient"
)

// function is the template's audit function: its stream filter applies.
const function = "AuditFunction"

func main() {
	queueURL := flag.String("queue-url", os.Getenv("AUDIT_DLQ_URL"), "the AuditDeadLetterQueue's URL (AWS); empty for the local stack")
	table := flag.String("audit-table", os.Getenv("AUDIT_TABLE"), "the AuditTable's name (AWS)")
	file := flag.String("file", "", "the local stack's dead-letter file (default $FLOWELLA_DATA_DIR/stream-dead-letters.jsonl)")
	template := flag.String("template", "template.yaml", "the SAM template, for the audit function's stream filter")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	slog.SetDefault(log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	kept, err := start(ctx, *queueURL, *table, *file, *template, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "audit-replay:", err)
		os.Exit(1)
	}
	if kept > 0 {
		os.Exit(1)
	}
}

// start wires the queue, the stream and the audit handler, for AWS or for
// the running local stack, and replays.
func start(ctx context.Context, queueURL, table, file, template string, log *slog.Logger) (int, error) {
	tpl, err := samtemplate.Load(template)
	if err != nil {
		return 0, fmt.Errorf("run from the repository root, or give -template: %w", err)
	}
	filters, err := auditFilters(tpl)
	if err != nil {
		return 0, err
	}
	var (
		q        queue
		endpoint string
	)
	if queueURL != "" {
		if table == "" {
			return 0, errors.New("set AUDIT_TABLE (or -audit-table) to the stack's AuditTableName output")
		}
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return 0, fmt.Errorf("aws config: %w", err)
		}
		q = &sqsQueue{client: sqs.NewFromConfig(cfg), url: queueURL}
	} else {
		dataDir := os.Getenv("FLOWELLA_DATA_DIR")
		if dataDir == "" {
			dataDir = filepath.Join(".local", "data")
		}
		if file == "" {
			file = filepath.Join(dataDir, "stream-dead-letters.jsonl")
		}
		if table == "" {
			table = "AuditTable" // the local stack names tables by logical id
		}
		if endpoint, err = localEndpoint(dataDir); err != nil {
			return 0, err
		}
		q = &fileQueue{file: streamevents.DeadLetterFile{Path: file}}
	}
	db, err := dynamo.NewWithEndpoint(ctx, endpoint)
	if err != nil {
		return 0, err
	}
	streams, err := streamsclient.New(ctx, endpoint)
	if err != nil {
		return 0, err
	}
	// The handler is built as functions/audit-stream builds it.
	h := &audit.Handler{DB: db, Table: table, Log: log}
	r := newReplayer(streams, h.Handle, filters, log)
	if endpoint != "" {
		r.streamArn = localStreamArn(db)
	}
	return run(ctx, q, r, os.Stdout)
}

func newReplayer(streams Streams, handle handlerFunc, filters []streamevents.Filter, log *slog.Logger) *replayer {
	return &replayer{streams: streams, handle: handle, filters: filters, batchSize: 100, attempts: 5,
		backoff: 200 * time.Millisecond, log: log}
}

// run replays every entry of q, reports each on out, and returns how many
// it kept.
func run(ctx context.Context, q queue, r *replayer, out io.Writer) (int, error) {
	replayed, records, kept := 0, 0, 0
	for ctx.Err() == nil {
		msgs, err := q.receive(ctx)
		if err != nil {
			return kept, err
		}
		if len(msgs) == 0 {
			break
		}
		for _, m := range msgs {
			if ctx.Err() != nil {
				break
			}
			if m.err != nil {
				kept++
				fmt.Fprintf(out, "KEPT %s: %v\n", m.id, m.err)
				continue
			}
			b := m.entry.Batch
			where := fmt.Sprintf("shard %s, sequence numbers %s to %s (%d records", b.ShardID, b.StartSequenceNumber, b.EndSequenceNumber, b.BatchSize)
			if b.ApproximateArrivalOfFirstRecord != "" {
				where += ", the first written " + b.ApproximateArrivalOfFirstRecord
			}
			where += ")"
			n, err := r.replay(ctx, m.entry)
			switch {
			case errors.Is(err, errTrimmed):
				kept++
				fmt.Fprintf(out, "LOST %s: %s: %v.\n  These changes cannot be audited from the stream any more; the entry is kept as the record of the gap.\n", m.id, where, err)
				continue
			case err != nil:
				kept++
				fmt.Fprintf(out, "KEPT %s: %s: %v (run again once the cause is fixed)\n", m.id, where, err)
				continue
			}
			if err := q.remove(ctx, m); err != nil {
				kept++
				fmt.Fprintf(out, "KEPT %s: replayed, but not removed: %v (a second run adds nothing)\n", m.id, err)
				continue
			}
			replayed++
			records += n
			fmt.Fprintf(out, "replayed %s: %s\n", m.id, where)
		}
	}
	fmt.Fprintf(out, "%d entries replayed (%d stream records handed to the audit function), %d kept\n", replayed, records, kept)
	return kept, ctx.Err()
}

// handlerFunc is the audit function's typed handler.
type handlerFunc = func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

// auditFilters is the audit function's stream filter from the template.
func auditFilters(tpl *samtemplate.Template) ([]streamevents.Filter, error) {
	mappings, err := tpl.StreamMappings()
	if err != nil {
		return nil, err
	}
	for _, m := range mappings {
		if m.Function == function {
			return streamevents.ParseFilters(m.FilterPatterns)
		}
	}
	return nil, fmt.Errorf("the template has no stream event for %s", function)
}

// localEndpoint finds the running local stack's DynamoDB Local.
func localEndpoint(dataDir string) (string, error) {
	if e := os.Getenv("DYNAMODB_ENDPOINT"); e != "" {
		return e, nil
	}
	b, err := os.ReadFile(filepath.Join(dataDir, "dynamodb", "endpoint"))
	if err != nil {
		return "", fmt.Errorf("the local stack is not running (start it with make run), or set AUDIT_DLQ_URL for AWS: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// localStreamArn finds the local keys table's stream, for dead-letter
// entries of the local file's earlier format, which did not name it.
func localStreamArn(db *dynamodb.Client) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("KeysTable")})
		if err != nil {
			return "", fmt.Errorf("find the keys table's stream: %w", err)
		}
		return aws.ToString(out.Table.LatestStreamArn), nil
	}
}
