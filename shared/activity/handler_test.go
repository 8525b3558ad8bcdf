package activity_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/flowella/apikeys/local/locallogs"
	"github.com/flowella/apikeys/local/syncbuf"
	"github.com/flowella/apikeys/shared/activity"
)

// A line naming a key that cannot be read (here cut short, as a line
// broken by a caller would be) is a request missing from the activity: the
// batch's log line counts it, for the alarm on it, and says nothing of its
// content.
func TestUnreadableLinesAreCounted(t *testing.T) {
	f := newFixture(t)
	var logs syncbuf.Buffer
	h := &activity.Handler{Recorder: f.rec, Log: slog.New(slog.NewJSONHandler(&logs, nil))}
	now := time.Now()
	good := `{"path":"/v1/whoami","user_agent":"curl/8","request_id":"rq-good","time":"` + strconv.FormatInt(now.UnixMilli(), 10) +
		`","method":"GET","status":"200","latency_ms":"3","source_ip":"203.0.113.7","principal_type":"api_key","org_id":"org_a",` +
		`"key_id":"key_01KMZ0000000000000000000QR","key_prefix":"flwl_live_abcdef","user_id":"-","route":"/v1/whoami","error_type":"-"}`
	broken := good[:len(good)/2] + `secret-looking-tail`
	ev, err := locallogs.Event("/aws/apigateway/access", "s", "activity", []events.CloudwatchLogsLogEvent{
		{ID: "1", Timestamp: now.UnixMilli(), Message: good},
		{ID: "2", Timestamp: now.UnixMilli(), Message: broken},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	var line struct {
		Msg        string
		Unreadable *int
		Created    int
	}
	for l := range strings.Lines(logs.String()) {
		if json.Unmarshal([]byte(l), &line) == nil && line.Msg == "key activity recorded" {
			break
		}
	}
	if line.Unreadable == nil || *line.Unreadable != 1 || line.Created != 1 {
		t.Fatalf("batch line %s: want unreadable 1, created 1", logs.String())
	}
	if strings.Contains(logs.String(), "secret-looking-tail") {
		t.Fatalf("the unreadable line's content was logged: %s", logs.String())
	}
}
