package adminapi

import (
	"time"

	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/stamp"
)

// keyResource is a key as the API shows it. It has no secret field: only the
// create response adds one.
type keyResource struct {
	Object       string     `json:"object"`
	ID           string     `json:"id"`
	Label        string     `json:"label"`
	Prefix       string     `json:"prefix"`
	Scopes       []string   `json:"scopes"`
	Status       string     `json:"status"`
	CreatedAt    stamp.Time `json:"created_at"`
	CreatedBy    string     `json:"created_by"`
	LastUsedAt   stamp.Time `json:"last_used_at"` // times are null when not set
	RevokedAt    stamp.Time `json:"revoked_at"`
	RevokedBy    *string    `json:"revoked_by"`
	RevokeReason *string    `json:"revoke_reason"`
	ExpiresAt    stamp.Time `json:"expires_at"`
	AllowedIPs   []string   `json:"allowed_ips"`
	Channels     []string   `json:"channels"`
	RolledFrom   *string    `json:"rolled_from"`
	RolledTo     *string    `json:"rolled_to"`
	// ExposedAt is when the key was first reported found in public (GitHub
	// secret scanning), ExposureURL where it was last reported.
	ExposedAt   stamp.Time `json:"exposed_at"`
	ExposureURL *string    `json:"exposure_url"`
	// Flags point out hygiene problems of an active key (see hygieneFlags).
	Flags []string `json:"flags"`
	// Warnings, on a create, a PATCH, a GET and a roll of one key and on
	// each key of a list: its scopes the organisation's plan does not grant
	// (warnings.go). Left out when the organisation could not be read.
	Warnings *[]warning `json:"warnings,omitempty"`

	etag string // sent as the ETag header where the response is this key
}

// ETag is the key's entity tag (see etagOf).
func (r keyResource) ETag() string { return r.etag }

// Hygiene thresholds: a key this old, or unused this long, should be rolled
// or revoked.
const (
	FlagOld    = "older_than_12_months"
	FlagUnused = "unused_90_days"
	oldAge     = 365 * 24 * time.Hour
	unusedAge  = 90 * 24 * time.Hour
)

// FlagExposed marks an active key that was found in public and kept
// working (its organisation's on_exposure is notify): roll it.
const FlagExposed = "exposed"

// hygieneFlags flags an active key found in public, created over 12 months
// ago, or not used (or never used) for 90 days.
func hygieneFlags(k keystore.Key, now time.Time) []string {
	flags := []string{}
	if k.StatusAt(now) != keystore.StatusActive {
		return flags
	}
	if !k.ExposedAt.IsZero() {
		flags = append(flags, FlagExposed)
	}
	if !k.CreatedAt.IsZero() && k.CreatedAt < stamp.Of(now).Add(-oldAge) {
		flags = append(flags, FlagOld)
	}
	lastSeen := k.LastUsedAt
	if lastSeen.IsZero() {
		lastSeen = k.CreatedAt
	}
	if !lastSeen.IsZero() && lastSeen < stamp.Of(now).Add(-unusedAge) {
		flags = append(flags, FlagUnused)
	}
	return flags
}

// createdKey is the create response: the resource and, this once, the secret.
type createdKey struct {
	keyResource
	Secret string `json:"secret"`
}

// resourceOf shows k as it stands at now (an active key past its expiry is
// expired).
func resourceOf(k keystore.Key, now time.Time) keyResource {
	return keyResource{
		Object:       "api_key",
		ID:           k.ID,
		Label:        k.Label,
		Prefix:       k.Prefix,
		Scopes:       nonNil(k.Scopes),
		Status:       string(k.StatusAt(now)),
		CreatedAt:    k.CreatedAt,
		CreatedBy:    k.CreatedBy,
		LastUsedAt:   k.LastUsedAt,
		RevokedAt:    k.RevokedAt,
		RevokedBy:    nullable(k.RevokedBy),
		RevokeReason: nullable(k.RevokeReason),
		ExpiresAt:    k.ExpiresAt,
		AllowedIPs:   nonNil(k.AllowedIPs),
		Channels:     nonNil(k.Channels),
		RolledFrom:   nullable(k.RolledFrom),
		RolledTo:     nullable(k.RolledTo),
		ExposedAt:    k.ExposedAt,
		ExposureURL:  nullable(k.ExposureURL),
		Flags:        hygieneFlags(k, now),
		etag:         etagOf(k),
	}
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
