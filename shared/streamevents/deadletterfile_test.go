package streamevents

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func entry(shard, start, end string) DeadLetter {
	return DeadLetter{Version: "1.0", RequestContext: DeadLetterRequest{Condition: ConditionRetriesExhausted},
		Batch: BatchInfo{ShardID: shard, StartSequenceNumber: start, EndSequenceNumber: end, BatchSize: 2, StreamArn: testStreamArn}}
}

func writeLine(t *testing.T, f DeadLetterFile, d DeadLetter) {
	t.Helper()
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		t.Fatal(err)
	}
}

func TestDeadLetterFile(t *testing.T) {
	f := DeadLetterFile{Path: filepath.Join(t.TempDir(), "dead-letters.jsonl")}
	if got, err := f.Read(); err != nil || len(got) != 0 {
		t.Fatalf("a missing file: %v, %v", got, err)
	}
	a, b := entry("shard-1", "100", "200"), entry("shard-1", "300", "400")
	writeLine(t, f, a)
	writeLine(t, f, b)
	got, err := f.Read()
	if err != nil || len(got) != 2 || !got[0].Same(a) || !got[1].Same(b) {
		t.Fatalf("read %+v, %v", got, err)
	}
	if err := f.Remove([]DeadLetter{a}); err != nil {
		t.Fatal(err)
	}
	got, err = f.Read()
	if err != nil || len(got) != 1 || !got[0].Same(b) {
		t.Fatalf("after removing the first: %+v, %v", got, err)
	}
}

// A line of the file's earlier format still reads, as the same range.
func TestDeadLetterFileEarlierFormat(t *testing.T) {
	f := DeadLetterFile{Path: filepath.Join(t.TempDir(), "dead-letters.jsonl")}
	line := `{"time":"2026-01-01T00:00:00Z","function":"AuditFunction","shard":"shard-9","first_sequence_number":"5","last_sequence_number":"7","event_ids":["a","b","c"]}` + "\n\n"
	if err := os.WriteFile(f.Path, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := f.Read()
	if err != nil || len(got) != 1 {
		t.Fatalf("read %+v, %v", got, err)
	}
	b := got[0].Batch
	if b.ShardID != "shard-9" || b.StartSequenceNumber != "5" || b.EndSequenceNumber != "7" || b.BatchSize != 3 || b.StreamArn != "" ||
		got[0].RequestContext.Condition != ConditionRetriesExhausted {
		t.Errorf("earlier format read as %+v", got[0])
	}
}

func TestDeadLetterFileRefusesOtherLines(t *testing.T) {
	tests := []struct{ name, line string }{
		{"not JSON", "shard-1 100 200"},
		{"no batch", `{"version":"1.0","requestContext":{"condition":"RetryAttemptsExhausted"}}`},
		{"no end", `{"DDBStreamBatchInfo":{"shardId":"s","startSequenceNumber":"1"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := DeadLetterFile{Path: filepath.Join(t.TempDir(), "dead-letters.jsonl")}
			if err := os.WriteFile(f.Path, []byte(tt.line+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if got, err := f.Read(); err == nil || !strings.Contains(err.Error(), "line 1") {
				t.Errorf("read %+v, %v; want an error naming the line", got, err)
			}
		})
	}
}
