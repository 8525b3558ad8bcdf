package activity

import (
	"encoding/json"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/principal"
	"github.com/flowella/apikeys/shared/textclip"
)

// DecisionMessage is the message of the authorizer's line per decision
// (shared/authorizer, decideAndLog).
const DecisionMessage = "authorizer decision"

// maxLine bounds the lines read: CloudWatch Logs' largest event. Both
// kinds are far shorter, but a caller chooses some of their values (its
// user agent, its path, escaped twice their size), which Parse clips: a
// line made long on purpose is still read.
const maxLine = 256 << 10

// Parse reads one log line of either kind — an access-log line in the
// template's format (AccessLogSetting.Format: every value a string, "-"
// when absent) or the authorizer's decision line — logged at (the log
// event's timestamp). It keeps what can be recorded: access-log lines that
// name a key, but not the authorizer's 401s (they never do; their decision
// line is their record); the authorizer's refusals of an identified key
// (its allowed decisions add nothing to the access log's line). Anything
// else, or anything malformed, is not ok.
func Parse(message string, at time.Time) (Observation, bool) {
	if len(message) > maxLine || !strings.HasPrefix(strings.TrimSpace(message), "{") {
		return Observation{}, false
	}
	var fields map[string]any
	if json.Unmarshal([]byte(message), &fields) != nil {
		return Observation{}, false
	}
	str := func(name string) string {
		s, _ := fields[name].(string)
		if s == "-" {
			return ""
		}
		return s
	}
	// An access line always has status, and the gateway writes it after
	// the values a caller chooses; the authorizer's lines never have one.
	// So status decides, not a msg a caller could slip into its user agent.
	if _, ok := fields["status"]; ok {
		return accessLine(str, at)
	}
	if msg := str("message") + str("msg"); msg == DecisionMessage {
		return decisionLine(str, at)
	}
	return Observation{}, false
}

// accessLine reads the API's access log.
func accessLine(str func(string) string, at time.Time) (Observation, bool) {
	o := Observation{Source: FromAccessLog, At: at}
	if ms, err := strconv.ParseInt(str("time"), 10, 64); err == nil && ms > 0 {
		o.At = time.UnixMilli(ms) // $context.requestTimeEpoch: when the request came
	}
	if !fill(&o, str, "route") {
		return o, false
	}
	o.Status = number(str("status"), 100, 599)
	if n, err := strconv.Atoi(str("latency_ms")); err == nil && n >= 0 && n <= 1e7 {
		o.LatencyMS = &n
	}
	o.UserAgent = textclip.Clip(str("user_agent"), 512)
	// API Gateway's own answer to the request, if it gave one:
	// UNAUTHORIZED and ACCESS_DENIED are the authorizer's refusals. A 401
	// or 403 the backend gave is an allowed request.
	switch str("error_type") {
	case "UNAUTHORIZED", "ACCESS_DENIED":
		o.Outcome = Refused
	default:
		o.Outcome = Allowed
	}
	if o.Status == 0 || str(principal.FieldType) == string(principal.Session) {
		return o, false
	}
	// The authorizer's 401 is recorded from its decision line alone: an
	// access line of one, were it to name a key, would make a second record.
	if o.Outcome == Refused && o.Status == 401 {
		return o, false
	}
	return o, o.identified()
}

// decisionLine reads the authorizer's line per decision.
func decisionLine(str func(string) string, at time.Time) (Observation, bool) {
	o := Observation{Source: FromAuthorizer, At: at}
	if !fill(&o, str, "resource") {
		return o, false
	}
	o.Outcome = Refused
	switch str("outcome") {
	case "unauthenticated":
		o.Status = 401
	case "forbidden":
		o.Status = 403
	default:
		return o, false // allowed: the access log's line says it all
	}
	if r := str("reason_code"); validReason(r) {
		o.Reason = r
	}
	o.UserAgent = textclip.Clip(str("user_agent"), 512)
	return o, o.identified()
}

// fill reads what both kinds carry: the request, its route, its source and
// the key.
func fill(o *Observation, str func(string) string, routeField string) bool {
	// API Gateway's own id of the request: a client can choose request_id
	// ($context.requestId), and with it make requests merge into one.
	o.RequestID = str("extended_request_id")
	if o.RequestID == "" {
		o.RequestID = str("request_id")
	}
	if !validRequestID(o.RequestID) {
		return false
	}
	if m := str("method"); validMethod(m) {
		o.Method = m
	}
	o.Route = textclip.Clip(str(routeField), 512)
	o.Path = textclip.Clip(str("path"), 512)
	if ip, err := netip.ParseAddr(str("source_ip")); err == nil {
		o.SourceIP = ip.Unmap().String()
	}
	// Both kinds name the key's fields as the authorizer context does.
	if id, org := str(principal.FieldKeyID), str(principal.FieldOrgID); keystore.ValidID(id) && validOrgID(org) {
		o.KeyID, o.OrgID = id, org
		o.KeyPrefix = textclip.Clip(str(principal.FieldKeyPrefix), 32)
	}
	return true
}

func number(s string, lo, hi int) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0
	}
	return n
}

// clip cuts s to at most n bytes, on a character boundary.

// validRequestID accepts API Gateway's request ids (UUIDs) and the like.
func validRequestID(s string) bool { return len(s) <= 128 && allOf(s, "-_+/=") }

// validOrgID accepts organisation ids; "#" would break the item keys.
func validOrgID(s string) bool { return len(s) <= 128 && allOf(s, "-_.:") }

func validReason(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && c != '_' {
			return false
		}
	}
	return true
}

func validMethod(s string) bool {
	if s == "" || len(s) > 10 {
		return false
	}
	for _, c := range s {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

// allOf reports whether s is non-empty and made of ASCII letters, digits and
// the extra characters.
func allOf(s, extra string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune(extra, c)) {
			return false
		}
	}
	return true
}
