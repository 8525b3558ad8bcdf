package streamevents

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"syscall"
)

// DeadLetterFile is the local stack's dead-letter queue: a file of
// DeadLetter documents, one a line. Each write opens, appends and closes
// under an exclusive lock, so that the replay can rewrite the file while the
// poller runs.
type DeadLetterFile struct{ Path string }

// Write appends one line (p must be a whole line).
func (f DeadLetterFile) Write(p []byte) (int, error) {
	var n int
	err := f.locked(func() error {
		out, err := os.OpenFile(f.Path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		n, err = out.Write(p)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		return err
	})
	return n, err
}

// Read returns the file's entries; a missing file has none.
func (f DeadLetterFile) Read() ([]DeadLetter, error) {
	var out []DeadLetter
	err := f.locked(func() error {
		var err error
		out, err = f.read()
		return err
	})
	return out, err
}

// Remove rewrites the file without the entries in done. Entries written
// since they were read stay.
func (f DeadLetterFile) Remove(done []DeadLetter) error {
	return f.locked(func() error {
		all, err := f.read()
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		for _, d := range all {
			if containsBatch(done, d) {
				continue
			}
			b, err := json.Marshal(d)
			if err != nil {
				return err
			}
			buf.Write(append(b, '\n'))
		}
		tmp := f.Path + ".tmp"
		if err := os.WriteFile(tmp, buf.Bytes(), 0o600); err != nil {
			return err
		}
		return os.Rename(tmp, f.Path)
	})
}

func containsBatch(list []DeadLetter, d DeadLetter) bool {
	for _, x := range list {
		if x.Same(d) {
			return true
		}
	}
	return false
}

func (f DeadLetterFile) read() ([]DeadLetter, error) {
	b, err := os.ReadFile(f.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []DeadLetter
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var d DeadLetter
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", f.Path, line, err)
		}
		if d.Batch.ShardID == "" {
			d = legacyEntry(sc.Bytes())
		}
		if d.Batch.ShardID == "" || d.Batch.StartSequenceNumber == "" || d.Batch.EndSequenceNumber == "" {
			return nil, fmt.Errorf("%s line %d: not a stream dead-letter entry (no DDBStreamBatchInfo)", f.Path, line)
		}
		out = append(out, d)
	}
	return out, sc.Err()
}

// legacyEntry reads a line of the file's earlier format (before it took
// Lambda's shape), which named the shard and range but not the stream.
func legacyEntry(line []byte) DeadLetter {
	var old struct {
		Time     string   `json:"time"`
		Function string   `json:"function"`
		Shard    string   `json:"shard"`
		First    string   `json:"first_sequence_number"`
		Last     string   `json:"last_sequence_number"`
		EventIDs []string `json:"event_ids"`
	}
	_ = json.Unmarshal(line, &old)
	return DeadLetter{
		RequestContext: DeadLetterRequest{FunctionArn: old.Function, Condition: ConditionRetriesExhausted},
		Version:        "1.0",
		Timestamp:      old.Time,
		Batch:          BatchInfo{ShardID: old.Shard, StartSequenceNumber: old.First, EndSequenceNumber: old.Last, BatchSize: len(old.EventIDs)},
	}
}

// locked runs fn holding an exclusive lock on the file's lock file.
func (f DeadLetterFile) locked(fn func() error) error {
	lock, err := os.OpenFile(f.Path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", f.Path, err)
	}
	defer func() { _ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) }()
	return fn()
}
