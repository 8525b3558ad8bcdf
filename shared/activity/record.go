// Package activity is what each API key did: every request that presented
// an identifiable key, allowed or refused, recorded from the API's access
// log and the authorizer's decision log as CloudWatch Logs subscriptions
// deliver them (recorder.go), and read back per key as requests, usage
// counters and an exposure report (log.go).
//
// A 403 reaches the recorder twice, once from each log, in either order,
// and any delivery can come again. Its record is merged from both by
// request id (Record.with), and the counters move by what a merge adds
// (counts), in the same transaction as the record, so every request counts
// once however often and in whatever order its lines arrive. An allowed
// request is its access-log line alone, a 401 its decision line alone.
package activity

import (
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/flowella/apikeys/shared/stamp"
)

// Source is the log a line came from.
type Source string

const (
	// FromAccessLog is the API's access log: the final status, latency and
	// user agent, and the key for every request the authorizer let through
	// or refused with 403 (a 401 carries no authorizer context).
	FromAccessLog Source = "access_log"
	// FromAuthorizer is the authorizer's decision log: the key of every
	// decision that identified one, and why it refused; a 401's only line.
	FromAuthorizer Source = "authorizer"
)

// Outcomes of a request.
const (
	Allowed = "allowed"
	Refused = "refused"
)

// Observation is what one log line says about one request.
type Observation struct {
	Source    Source    `dynamodbav:"source"`
	RequestID string    `dynamodbav:"request_id"`
	At        time.Time `dynamodbav:"at"`
	OrgID     string    `dynamodbav:"org_id,omitempty"`
	KeyID     string    `dynamodbav:"key_id,omitempty"`
	KeyPrefix string    `dynamodbav:"key_prefix,omitempty"`
	Method    string    `dynamodbav:"method,omitempty"`
	Route     string    `dynamodbav:"route,omitempty"` // the API's resource, e.g. /v1/messages/{id}
	Path      string    `dynamodbav:"path,omitempty"`
	Status    int       `dynamodbav:"status,omitempty"` // 0 when the line does not say
	Outcome   string    `dynamodbav:"outcome,omitempty"`
	Reason    string    `dynamodbav:"reason,omitempty"`
	SourceIP  string    `dynamodbav:"source_ip,omitempty"`
	UserAgent string    `dynamodbav:"user_agent,omitempty"`
	LatencyMS *int      `dynamodbav:"latency_ms,omitempty"`
}

// identified reports whether the observation names a key.
func (o Observation) identified() bool { return o.KeyID != "" && o.OrgID != "" }

// direct reports whether the observation is the whole story of its request,
// so no other line will come for it and its record is written without a
// look-up: an access-log line of a request the authorizer let through (only
// its refusals are recorded from its log), or the decision line of a 401
// (whose access-log line names no key: Parse drops it).
func (o Observation) direct() bool {
	if !o.identified() {
		return false
	}
	switch o.Source {
	case FromAccessLog:
		return o.Outcome == Allowed
	case FromAuthorizer:
		return o.Status == 401
	}
	return false
}

// Record is one request made with a key.
type Record struct {
	OrgID      string     `dynamodbav:"org_id"`
	KeyID      string     `dynamodbav:"key_id"`
	KeyPrefix  string     `dynamodbav:"key_prefix,omitempty"`
	RequestID  string     `dynamodbav:"request_id"`
	OccurredAt stamp.Time `dynamodbav:"occurred_at"`
	Method     string     `dynamodbav:"method,omitempty"`
	Route      string     `dynamodbav:"route,omitempty"`
	Path       string     `dynamodbav:"path,omitempty"`
	Status     int        `dynamodbav:"status,omitempty"`
	Outcome    string     `dynamodbav:"outcome,omitempty"`
	Reason     string     `dynamodbav:"reason,omitempty"`
	SourceIP   string     `dynamodbav:"source_ip,omitempty"`
	UserAgent  string     `dynamodbav:"user_agent,omitempty"`
	LatencyMS  *int       `dynamodbav:"latency_ms,omitempty"`
	// Sources are the logs merged into the record, sorted.
	Sources []string `dynamodbav:"sources"`
}

func (r Record) has(s Source) bool { return slices.Contains(r.Sources, string(s)) }

// with merges o into r. Each log is the authority on what it knows best:
// the access log on the status, latency, user agent and the request's line;
// the authorizer on whether and why it refused. The result is the same in
// either order but for its time, which is the first line's (the record's
// sort key, fixed when it is first written; the two lines' times differ
// by milliseconds), and merging a line twice changes nothing.
func (r Record) with(o Observation) Record {
	fromAccess, fromAuth := r.has(FromAccessLog), r.has(FromAuthorizer)
	set := func(dst *string, v string, wins bool) {
		if v != "" && (wins || *dst == "") {
			*dst = v
		}
	}
	if r.OccurredAt.IsZero() {
		r.OccurredAt = stamp.Of(o.At)
	}
	set(&r.OrgID, o.OrgID, false)
	set(&r.KeyID, o.KeyID, false)
	set(&r.KeyPrefix, o.KeyPrefix, false)
	set(&r.RequestID, o.RequestID, false)
	switch o.Source {
	case FromAccessLog:
		for _, f := range []struct {
			dst *string
			v   string
		}{{&r.Method, o.Method}, {&r.Route, o.Route}, {&r.Path, o.Path}, {&r.SourceIP, o.SourceIP}, {&r.UserAgent, o.UserAgent}} {
			set(f.dst, f.v, true)
		}
		if o.Status != 0 {
			r.Status = o.Status
		}
		if o.LatencyMS != nil {
			r.LatencyMS = o.LatencyMS
		}
		set(&r.Outcome, o.Outcome, !fromAuth)
	case FromAuthorizer:
		for _, f := range []struct {
			dst *string
			v   string
		}{{&r.Method, o.Method}, {&r.Route, o.Route}, {&r.Path, o.Path}, {&r.SourceIP, o.SourceIP}, {&r.UserAgent, o.UserAgent}} {
			set(f.dst, f.v, !fromAccess)
		}
		if o.Status != 0 && (!fromAccess || r.Status == 0) {
			r.Status = o.Status
		}
		set(&r.Outcome, o.Outcome, true)
		set(&r.Reason, o.Reason, true)
	}
	if !r.has(o.Source) {
		r.Sources = append(slices.Clone(r.Sources), string(o.Source))
		slices.Sort(r.Sources)
	}
	return r
}

func (r Record) equal(o Record) bool { return reflect.DeepEqual(r, o) }

// Mutating reports whether method changes something downstream.
func Mutating(method string) bool {
	switch method {
	case "POST", "PUT", "PATCH", "DELETE":
		return true
	}
	return false
}

// StatusClass is "2xx" for 200 to 299, and so on; "" for no status.
func StatusClass(status int) string {
	if status < 100 || status > 599 {
		return ""
	}
	return string(rune('0'+status/100)) + "xx"
}

// Item keys. Everything of one key lives under partitions that name its
// organisation too, so a read in another organisation finds nothing.
const (
	recordPrefix     = "act#" // act#<org>#<key>, sk <occurred_at>#<request id>
	usagePrefix      = "use#" // use#<org>#<key>, sk <hour>
	sourceIPPrefix   = "ip#"  // ip#<org>#<key>,  sk <hour>#<ip>
	writesPrefix     = "wr#"  // wr#<org>#<key>,  sk <hour>#<method> <route>
	rendezvousPrefix = "req#" // req#<org>#<key>#<request id>, sk "req"
)

func partition(prefix, orgID, keyID string) string { return prefix + orgID + "#" + keyID }

// hourOf is the hour bucket of a stored time: "2026-11-25T10" ("" for
// anything too short to be one).
func hourOf(at string) string {
	if len(at) < len(HourLayout) {
		return ""
	}
	return at[:len(HourLayout)]
}

// HourLayout is how hour buckets are written.
const HourLayout = "2006-01-02T15"

// sk is the record's sort key: newest first when read backwards.
func (r Record) sk() string { return r.OccurredAt.String() + "#" + r.RequestID }

// counterKey names one counter item.
type counterKey struct{ PK, SK string }

// counts are the counter increments a record stands for: the request in
// its key's hourly usage, in its source address's hourly count, and, for
// an allowed change (POST, PUT, PATCH, DELETE), in its route's.
func (r Record) counts() map[counterKey]map[string]int {
	out := map[counterKey]map[string]int{}
	if r.KeyID == "" || r.OccurredAt.IsZero() {
		return out
	}
	hour := hourOf(r.OccurredAt.String())
	usage := map[string]int{"requests": 1}
	if r.Outcome != "" {
		usage[r.Outcome] = 1
	}
	if c := StatusClass(r.Status); c != "" {
		usage["s_"+c] = 1
	}
	if r.Outcome == Refused && r.Reason != "" {
		usage["r_"+r.Reason] = 1
	}
	out[counterKey{partition(usagePrefix, r.OrgID, r.KeyID), hour}] = usage
	if r.SourceIP != "" {
		ip := map[string]int{"requests": 1}
		if r.Outcome != "" {
			ip[r.Outcome] = 1
		}
		out[counterKey{partition(sourceIPPrefix, r.OrgID, r.KeyID), hour + "#" + r.SourceIP}] = ip
	}
	if r.Outcome == Allowed && Mutating(r.Method) && r.Route != "" {
		out[counterKey{partition(writesPrefix, r.OrgID, r.KeyID), hour + "#" + r.Method + " " + r.Route}] = map[string]int{"requests": 1}
	}
	return out
}

// seen are the counter items that keep first and last times (source
// addresses and routes), for a record.
func (r Record) seen() []counterKey {
	var out []counterKey
	for k := range r.counts() {
		if !strings.HasPrefix(k.PK, usagePrefix) {
			out = append(out, k)
		}
	}
	return out
}

// delta is what moving from old to next adds to each counter.
func delta(old, next Record) map[counterKey]map[string]int {
	out := next.counts()
	for k, attrs := range old.counts() {
		for a, n := range attrs {
			if out[k] == nil {
				out[k] = map[string]int{}
			}
			out[k][a] -= n
		}
	}
	for k, attrs := range out {
		for a, n := range attrs {
			if n == 0 {
				delete(attrs, a)
			}
		}
		if len(attrs) == 0 {
			delete(out, k)
		}
	}
	return out
}
