package samtemplate

import "testing"

// The audit stream's retry settings are a contract with operators: retries
// ride out outages for 6 hours, and what is dead-lettered after that stays
// in the stream (24 hours) long enough to be replayed.
func TestAuditStreamMapping(t *testing.T) {
	tpl, err := Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	mappings, err := tpl.StreamMappings()
	if err != nil {
		t.Fatal(err)
	}
	var m *StreamMapping
	for i := range mappings {
		if mappings[i].Function == "AuditFunction" {
			m = &mappings[i]
		}
	}
	if m == nil {
		t.Fatalf("no stream mapping for AuditFunction in %+v", mappings)
	}
	const retention = 24 * 3600 // DynamoDB Streams
	switch {
	case m.Table != "KeysTable":
		t.Errorf("table %s", m.Table)
	case m.MaximumRetryAttempts != -1 && m.MaximumRetryAttempts < 100:
		t.Errorf("MaximumRetryAttempts %d: a short throttle must not dead-letter audit records", m.MaximumRetryAttempts)
	case m.MaximumRecordAge <= 0 || m.MaximumRecordAge > retention-12*3600:
		t.Errorf("MaximumRecordAgeInSeconds %d: leave at least 12 h of the stream's 24 h to replay dead letters", m.MaximumRecordAge)
	case m.OnFailure != "AuditDeadLetterQueue":
		t.Errorf("on-failure destination %q", m.OnFailure)
	case !m.ReportBatchFailures || !m.BisectBatchOnError || len(m.FilterPatterns) != 1:
		t.Errorf("mapping %+v", *m)
	case m.MaximumBatchingWindow != 0:
		t.Errorf("MaximumBatchingWindowInSeconds %d delays every audit record", m.MaximumBatchingWindow)
	}
}
