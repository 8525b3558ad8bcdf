package activity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Handler is the KeyActivityFunction: a CloudWatch Logs subscription batch
// of the access log or of the authorizer's log in, records out. A failed
// batch is an error, and Lambda delivers it again; recording it twice
// changes nothing.
type Handler struct {
	Recorder *Recorder
	Log      *slog.Logger
}

// Config is the recorder's environment.
type Config struct {
	Table     string        // ACTIVITY_TABLE
	Retention time.Duration // ACTIVITY_RETENTION_DAYS, 90 when unset
}

// ConfigFromEnv reads ACTIVITY_TABLE and ACTIVITY_RETENTION_DAYS.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{Table: getenv("ACTIVITY_TABLE"), Retention: 90 * 24 * time.Hour}
	if c.Table == "" {
		return c, errors.New("ACTIVITY_TABLE must be set")
	}
	if v := getenv("ACTIVITY_RETENTION_DAYS"); v != "" {
		days, err := strconv.Atoi(v)
		if err != nil || days < 1 || days > 3653 {
			return c, fmt.Errorf("ACTIVITY_RETENTION_DAYS: %q is not a number of days from 1 to 3653", v)
		}
		c.Retention = time.Duration(days) * 24 * time.Hour
	}
	return c, nil
}

// NewHandler builds the handler on db.
func NewHandler(c Config, db Writer, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.Default()
	}
	return &Handler{Recorder: &Recorder{DB: db, Table: c.Table, Retention: c.Retention}, Log: log}
}

// Handle records one batch.
func (h *Handler) Handle(ctx context.Context, ev events.CloudwatchLogsEvent) error {
	data, err := ev.AWSLogs.Parse()
	if err != nil {
		return fmt.Errorf("read log batch: %w", err)
	}
	if data.MessageType == "CONTROL_MESSAGE" {
		return nil // CloudWatch Logs checking that it can reach the function
	}
	obs := make([]Observation, 0, len(data.LogEvents))
	for _, e := range data.LogEvents {
		if o, ok := Parse(e.Message, time.UnixMilli(e.Timestamp)); ok {
			obs = append(obs, o)
		}
	}
	st, err := h.Recorder.Apply(ctx, obs)
	// The subscription filters deliver only lines that name a key: one
	// that could not be read is a request missing from the activity, said
	// here in numbers (never the line: it may hold a caller's secret).
	attrs := []any{"log_group", data.LogGroup, "events", len(data.LogEvents), "unreadable", len(data.LogEvents) - len(obs),
		"recorded_from", st.Observations,
		"created", st.Created, "merged", st.Merged, "unchanged", st.Unchanged,
		"write_items", st.WriteItems, "reads", st.Reads}
	if err != nil {
		h.Log.ErrorContext(ctx, "key activity not recorded", append(attrs, "error", err.Error())...)
		return err
	}
	h.Log.InfoContext(ctx, "key activity recorded", attrs...)
	return nil
}
