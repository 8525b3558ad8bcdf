package localiam

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
)

// Call is one IAM check a function's call made.
type Call struct {
	Function string `json:"function"`
	Action   string `json:"action"`
	// Resource names tables by their logical ids (table/KeysTable), as the
	// template does; LocalResource is the ARN that was checked.
	Resource      string              `json:"resource"`
	LocalResource string              `json:"local_resource"`
	Allowed       bool                `json:"allowed"`
	Context       map[string][]string `json:"context,omitempty"` // the condition keys the roles use
}

func (c Call) key() string {
	ctx, _ := json.Marshal(c.Context) // map keys are sorted
	return strings.Join([]string{c.Function, c.Action, c.Resource, fmt.Sprint(c.Allowed), string(ctx)}, "\x00")
}

// Recorder keeps the distinct calls, and writes each, when first seen, as
// one JSON line to its writer (when it has one).
type Recorder struct {
	mu    sync.Mutex
	w     io.Writer
	seen  map[string]bool
	calls []Call
	err   error
}

// NewRecorder records into w (nil: in memory only).
func NewRecorder(w io.Writer) *Recorder {
	return &Recorder{w: w, seen: map[string]bool{}}
}

// RecordEnv names the file every local stack of a process appends its
// calls to; make test sets it and make validate reads it.
const RecordEnv = "LOCAL_IAM_RECORD"

var envRecorder = sync.OnceValues(func() (*Recorder, error) {
	path := os.Getenv(RecordEnv)
	if path == "" {
		return NewRecorder(nil), nil
	}
	// Appended to by every test process at once: one write per line.
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", RecordEnv, err)
	}
	return NewRecorder(f), nil
})

// RecorderFromEnv is the process's recorder: it writes to the file named by
// LOCAL_IAM_RECORD, or keeps calls in memory when that is not set.
func RecorderFromEnv() (*Recorder, error) { return envRecorder() }

func (r *Recorder) add(c Call) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := c.key()
	if r.seen[k] {
		return
	}
	r.seen[k] = true
	r.calls = append(r.calls, c)
	if r.w == nil || r.err != nil {
		return
	}
	line, err := json.Marshal(c)
	if err == nil {
		_, err = r.w.Write(append(line, '\n'))
	}
	r.err = err
}

// Calls returns the distinct calls recorded so far, sorted.
func (r *Recorder) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Clone(r.calls)
	slices.SortFunc(out, func(a, b Call) int { return strings.Compare(a.key(), b.key()) })
	return out
}

// Err reports a failed write to the record file.
func (r *Recorder) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}
