// Package keystore keeps API keys and organisations in DynamoDB.
//
// A key item is stored under the SHA-256 of its secret (key_hash), so that
// the authorizer's lookup is one strongly consistent GetItem. The org-keys
// index (org_id, key_id) lists an organisation's keys; key ids are ULIDs, so
// they sort by creation time. The index is eventually consistent, so admin
// reads by id never use it: each key has an id pointer item (pointer.go),
// written with the key, that a strongly consistent GetItem follows.
//
// Every admin write acts on the version of the key it read: it checks the
// key's version in its condition and increments it (optimistic concurrency),
// so two admin writes never undo each other.
package keystore

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/flowella/apikeys/shared/stamp"
)

// Status of a key.
type Status string

const (
	StatusActive  Status = "active"
	StatusRevoked Status = "revoked"
	// StatusExpired is never stored: an active key past its expires_at is
	// shown as expired and refused.
	StatusExpired Status = "expired"
)

// Sentinel errors; the HTTP layer maps them to status codes.
var (
	ErrNotFound       = errors.New("api key not found")
	ErrAlreadyRevoked = errors.New("api key already revoked")
	ErrRevoked        = errors.New("api key is revoked")
	ErrExpired        = errors.New("api key has expired")
	ErrOrgNotFound    = errors.New("organisation not found")
	ErrConflict       = errors.New("concurrent change, try again")
	ErrDuplicateHash  = errors.New("key hash already stored")
	// ErrChanged: the key changed (its version moved on) between the read
	// a write acted on and the write.
	ErrChanged = errors.New("api key changed since it was read")
	// ErrAlreadyRolled: the key was rolled and its successor is live; a
	// *RolledError names the successor.
	ErrAlreadyRolled = errors.New("api key already rolled to a live successor")
	// ErrContention: DynamoDB cancelled the write for a transaction conflict
	// on every attempt (see transact).
	ErrContention = errors.New("too many concurrent writes to the same items")
)

// RolledError is ErrAlreadyRolled with the live successor.
type RolledError struct{ To string }

func (e *RolledError) Error() string { return fmt.Sprintf("%s %s", ErrAlreadyRolled, e.To) }

func (e *RolledError) Unwrap() error { return ErrAlreadyRolled }

// TimeLayout is how times are stored and shown: stamp.Layout.
const TimeLayout = stamp.Layout

// FormatTime is t as stored and shown, for comparing with stored or shown
// text (stamp.Format); a key's times are stamp.Time values.
func FormatTime(t time.Time) string { return stamp.Format(t) }

// Actor is who made a change, as the admin request saw them.
type Actor struct {
	UserID    string `dynamodbav:"user_id" json:"user_id"`
	IP        string `dynamodbav:"ip" json:"ip"`
	UserAgent string `dynamodbav:"user_agent" json:"user_agent"`
}

// Trace is the request's trace context.
type Trace struct {
	RequestID   string `dynamodbav:"request_id" json:"request_id"`
	XRayTraceID string `dynamodbav:"xray_trace_id,omitempty" json:"xray_trace_id,omitempty"`
	TraceParent string `dynamodbav:"traceparent,omitempty" json:"traceparent,omitempty"`
}

// Change is written onto the key item by every admin write, so the stream
// image carries who made it and from where. A last-used write removes it,
// which is how the audit stream tells the two apart.
type Change struct {
	Op    string     `dynamodbav:"op"`
	At    stamp.Time `dynamodbav:"at"`
	Actor Actor      `dynamodbav:"actor"`
	Trace Trace      `dynamodbav:"trace"`
	// Where the key was found, for an OpExpose change: the URL and the kind
	// of place (GitHub's source: content, commit, issue, …), so that the
	// audit record shows them. Plain strings keep Change comparable.
	ExposureURL    string `dynamodbav:"exposure_url,omitempty"`
	ExposureSource string `dynamodbav:"exposure_source,omitempty"`
}

// Change operations.
const (
	OpCreate = "create"
	OpUpdate = "update"
	OpRevoke = "revoke"
	OpRoll   = "roll"
	// OpExpose: the key was found in public (GitHub secret scanning) and
	// flagged, or revoked, on its organisation's behalf (exposure.go).
	OpExpose = "expose"
)

// Key is a stored API key. It never holds the secret.
type Key struct {
	Hash         string     `dynamodbav:"key_hash"`
	ID           string     `dynamodbav:"key_id"`
	OrgID        string     `dynamodbav:"org_id"`
	Prefix       string     `dynamodbav:"prefix"`
	Label        string     `dynamodbav:"label"`
	Scopes       []string   `dynamodbav:"scopes"`
	Status       Status     `dynamodbav:"status"`
	CreatedAt    stamp.Time `dynamodbav:"created_at"`
	CreatedBy    string     `dynamodbav:"created_by"`
	LastUsedAt   stamp.Time `dynamodbav:"last_used_at,omitempty"`
	RevokedAt    stamp.Time `dynamodbav:"revoked_at,omitempty"`
	RevokedBy    string     `dynamodbav:"revoked_by,omitempty"`
	RevokeReason string     `dynamodbav:"revoke_reason,omitempty"`
	ExpiresAt    stamp.Time `dynamodbav:"expires_at,omitempty"`
	AllowedIPs   []string   `dynamodbav:"allowed_ips,omitempty"` // CIDRs; none means any address
	Channels     []string   `dynamodbav:"channels,omitempty"`    // WhatsApp channel ids; none means every channel
	RolledFrom   string     `dynamodbav:"rolled_from,omitempty"` // the key this one replaced
	RolledTo     string     `dynamodbav:"rolled_to,omitempty"`   // the key that replaced this one
	// ExposedAt is when the key was first reported found in public;
	// ExposureURL and ExposureSource say where, as last reported.
	ExposedAt      stamp.Time `dynamodbav:"exposed_at,omitempty"`
	ExposureURL    string     `dynamodbav:"exposure_url,omitempty"`
	ExposureSource string     `dynamodbav:"exposure_source,omitempty"`
	LastChange     *Change    `dynamodbav:"last_change,omitempty"`
	// Version counts admin writes: 1 at creation, incremented by every
	// update, revoke, roll and exposure (never by a last-used write). Keys stored
	// before versions existed have none, which reads as 0.
	Version int64 `dynamodbav:"version,omitempty"`
}

// Live reports whether k is active and unexpired at now.
func (k Key) Live(now time.Time) bool { return k.StatusAt(now) == StatusActive }

// Expired reports whether k has an expiry that now has reached.
func (k Key) Expired(now time.Time) bool {
	return !k.ExpiresAt.IsZero() && k.ExpiresAt <= stamp.Of(now)
}

// StatusAt is the status as the API shows it at now: active, expired or revoked.
func (k Key) StatusAt(now time.Time) Status {
	if k.Status == StatusActive && k.Expired(now) {
		return StatusExpired
	}
	return k.Status
}

// NewID returns a new key id: key_ and a ULID, which sorts by creation time.
func NewID() string { return "key_" + ulid.Make().String() }

// ValidID reports whether s has the shape of a key id.
func ValidID(s string) bool {
	rest, ok := strings.CutPrefix(s, "key_")
	if !ok {
		return false
	}
	_, err := ulid.ParseStrict(rest)
	return err == nil && strings.ToUpper(rest) == rest
}

// Org is an organisation's plan, feature flags, what happens to its keys
// when they are found exposed, and its active-key count.
type Org struct {
	ID         string   `dynamodbav:"org_id"`
	Plan       string   `dynamodbav:"plan"`
	Features   []string `dynamodbav:"features"`
	OnExposure string   `dynamodbav:"on_exposure,omitempty"` // "" reads as ExposureRevoke
	// ActiveKeys counts creates less revokes: an expiry (or a roll's grace
	// running out) never decrements it, so it overcounts. The many-keys
	// warning uses Store.CountActive instead.
	ActiveKeys int `dynamodbav:"active_keys"`
}

// What happens to an active key found exposed (Org.OnExposure).
const (
	// ExposureRevoke revokes it at once, with reason ReasonExposed: the default.
	ExposureRevoke = "revoke"
	// ExposureNotify keeps it working, sets its exposed_at and flags it,
	// for organisations that must rotate on their own schedule.
	ExposureNotify = "notify"
)

// ExposurePolicy is what the organisation has chosen for exposed keys;
// revoke unless it chose notify.
func (o Org) ExposurePolicy() string {
	if o.OnExposure == ExposureNotify {
		return ExposureNotify
	}
	return ExposureRevoke
}

// HasFeature reports whether the organisation has feature f turned on.
func (o Org) HasFeature(f string) bool { return slices.Contains(o.Features, f) }

// MaxClockSkew is how far ahead of a function's clock a key's last change
// may be dated and still be followed by the next change (see ChangeAt).
const MaxClockSkew = 5 * time.Second

// ChangeAt is the time of a change made to k at now: now, or just after k's
// last change when that is later (another function's clock ahead of this
// one's, a revoke retried after a concurrent PATCH), so a key's changes, and
// its audit records, keep the order in which they were made. A last change
// dated more than MaxClockSkew ahead is a broken clock or a hand edit, and
// is not followed: every later change would inherit its date.
func (k Key) ChangeAt(now time.Time) stamp.Time {
	at := stamp.Of(now)
	if k.LastChange != nil && at <= k.LastChange.At && k.LastChange.At <= at.Add(MaxClockSkew) {
		return k.LastChange.At.Add(time.Millisecond)
	}
	return at
}
