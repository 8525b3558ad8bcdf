// Package audit turns changes of API keys, as the keys table's stream
// reports them, into audit records, and stores and lists those records.
package audit

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/oklog/ulid/v2"

	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/stamp"
)

// Audit record types.
const (
	TypeCreated       = "api_key.created"
	TypeRevoked       = "api_key.revoked"
	TypeScopesChanged = "api_key.scopes_changed"
	TypeLabelChanged  = "api_key.label_changed"
	TypeRolled        = "api_key.rolled"
	TypeIPsChanged    = "api_key.allowed_ips_changed"
	TypeChannels      = "api_key.channels_changed"
	// TypeExposed: the key was reported found in public (GitHub secret
	// scanning); a revoke on that report adds its own TypeRevoked record.
	TypeExposed = "api_key.exposed"
)

// Types lists every record type.
var Types = []string{TypeCreated, TypeRevoked, TypeScopesChanged, TypeLabelChanged, TypeRolled, TypeIPsChanged, TypeChannels, TypeExposed, TypeUnattributed}

// Record is one audit record.
type Record struct {
	OrgID      string         `dynamodbav:"org_id" json:"org_id"`
	SK         string         `dynamodbav:"sk" json:"-"` // occurred_at#id: newest first, unique
	ID         string         `dynamodbav:"id" json:"id"`
	Type       string         `dynamodbav:"type" json:"type"`
	KeyID      string         `dynamodbav:"key_id" json:"key_id"`
	KeyPrefix  string         `dynamodbav:"key_prefix" json:"key_prefix"`
	Actor      keystore.Actor `dynamodbav:"actor" json:"actor"`
	Trace      keystore.Trace `dynamodbav:"trace" json:"trace"`
	OccurredAt stamp.Time     `dynamodbav:"occurred_at" json:"occurred_at"`
	Before     map[string]any `dynamodbav:"before" json:"before"`
	After      map[string]any `dynamodbav:"after" json:"after"`
}

// FromStream turns one stream record into its audit records. What changed
// is read from the old and new images, not from what the writer says: a
// write that changes only last_used_at (the authorizer's) yields none; an
// admin change, which carries a new last_change, one record per kind of
// change; any other change to what a key grants or shows — status, scopes,
// allowed IPs, channels, expiry, label, version, organisation, a key created
// or deleted — without a new last_change yields api_key.unattributed_change,
// so no writer can change a key unseen. The ids derive from the stream
// record, so a redelivered record yields the very same records.
func FromStream(r events.DynamoDBEventRecord) ([]Record, error) {
	newKey, errNew := image(r.Change.NewImage)
	oldKey, errOld := image(r.Change.OldImage)
	if errNew != nil || errOld != nil {
		// An item no admin endpoint would write (a hand edit, say a time
		// in another format): recorded as it stands rather than retried
		// until the shard's records expire.
		return undecodable(r, errors.Join(errNew, errOld))
	}
	if !isKeyItem(newKey) && !isKeyItem(oldKey) {
		return nil, nil // an id pointer (written with its key) or no image at all
	}
	// A last_change without a time is no admin endpoint's (they all date
	// theirs): the change is unattributed, timed by the stream.
	marked := newKey != nil && newKey.LastChange != nil && !newKey.LastChange.At.IsZero() &&
		(oldKey == nil || oldKey.LastChange == nil || *oldKey.LastChange != *newKey.LastChange)
	if !marked {
		before, after := changedFields(oldKey, newKey)
		if len(before) == 0 && len(after) == 0 {
			return nil, nil // last_used_at alone, or nothing at all
		}
		rec := unattributed(r, oldKey, newKey, before, after)
		if rec.OccurredAt.IsZero() {
			return nil, fmt.Errorf("record %s: %w", r.Change.SequenceNumber, errUntimed)
		}
		to := ""
		if isKeyItem(oldKey) && isKeyItem(newKey) {
			to = newKey.OrgID
		}
		return perOrg(r, rec, rec.OrgID, to), nil
	}
	var out []Record
	add := func(typ string, before, after map[string]any) {
		out = append(out, newRecord(r, newKey, typ, before, after))
	}
	if r.EventName == "INSERT" || oldKey == nil {
		after := map[string]any{"label": newKey.Label, "scopes": newKey.Scopes, "status": string(newKey.Status)}
		if !newKey.ExpiresAt.IsZero() {
			after["expires_at"] = newKey.ExpiresAt.String()
		}
		if newKey.RolledFrom != "" {
			after["rolled_from"] = newKey.RolledFrom
		}
		if len(newKey.AllowedIPs) > 0 {
			after["allowed_ips"] = newKey.AllowedIPs
		}
		if len(newKey.Channels) > 0 {
			after["channels"] = newKey.Channels
		}
		add(TypeCreated, nil, after)
		return out, nil
	}
	if newKey.LastChange.Op == keystore.OpExpose {
		add(TypeExposed, map[string]any{"status": string(oldKey.Status), "exposed_at": nullableTime(oldKey.ExposedAt)},
			map[string]any{"status": string(newKey.Status), "exposed_at": newKey.ExposedAt.String(),
				"exposure_url": newKey.LastChange.ExposureURL, "exposure_source": newKey.LastChange.ExposureSource})
	}
	if newKey.RolledTo != "" && oldKey.RolledTo != newKey.RolledTo {
		add(TypeRolled, map[string]any{"status": string(oldKey.Status), "expires_at": nullableTime(oldKey.ExpiresAt)},
			map[string]any{"status": string(newKey.Status), "expires_at": nullableTime(newKey.ExpiresAt), "rolled_to": newKey.RolledTo})
	}
	if oldKey.Status != newKey.Status && newKey.Status == keystore.StatusRevoked {
		after := map[string]any{"status": string(newKey.Status)}
		if newKey.RevokeReason != "" {
			after["revoke_reason"] = newKey.RevokeReason
		}
		add(TypeRevoked, map[string]any{"status": string(oldKey.Status)}, after)
	}
	if !slices.Equal(oldKey.Scopes, newKey.Scopes) {
		add(TypeScopesChanged, map[string]any{"scopes": oldKey.Scopes}, map[string]any{"scopes": newKey.Scopes})
	}
	if oldKey.Label != newKey.Label {
		add(TypeLabelChanged, map[string]any{"label": oldKey.Label}, map[string]any{"label": newKey.Label})
	}
	if !slices.Equal(oldKey.AllowedIPs, newKey.AllowedIPs) {
		add(TypeIPsChanged, map[string]any{"allowed_ips": list(oldKey.AllowedIPs)}, map[string]any{"allowed_ips": list(newKey.AllowedIPs)})
	}
	if !slices.Equal(oldKey.Channels, newKey.Channels) {
		add(TypeChannels, map[string]any{"channels": list(oldKey.Channels)}, map[string]any{"channels": list(newKey.Channels)})
	}
	return out, nil
}

// list shows "no restriction" as an empty list rather than null.
func list(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// nullableTime is a time in a record's before or after: its stored text,
// or nil when not set.
func nullableTime(t stamp.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.String()
}

// image reads a stream image with the SDK's own attribute value decoding.
func image(img map[string]events.DynamoDBAttributeValue) (*keystore.Key, error) {
	if len(img) == 0 {
		return nil, nil
	}
	raw, err := json.Marshal(img)
	if err != nil {
		return nil, err
	}
	av, err := attributevalue.UnmarshalMapJSON(raw)
	if err != nil {
		return nil, err
	}
	if err := keystore.CheckNames(av); err != nil {
		return nil, err // read either way, "Status" beside "status" could hide a change
	}
	var k keystore.Key
	if err := attributevalue.UnmarshalMap(av, &k); err != nil {
		return nil, err
	}
	return &k, nil
}

// undecodable records a change whose images are not a key as the store
// writes it, as an unattributed change with both images as they are, timed
// by the stream record. Only an item that names no organisation and key is
// refused, as before: it has no place in any organisation's log.
func undecodable(r events.DynamoDBEventRecord, cause error) ([]Record, error) {
	oldRaw, newRaw := rawImage(r.Change.OldImage), rawImage(r.Change.NewImage)
	oldK, newK := keyOf(oldRaw), keyOf(newRaw)
	k := oldK // the key as its organisation knew it, when there was one
	if k.OrgID == "" || k.ID == "" {
		k = newK
	}
	if k.OrgID == "" || k.ID == "" || keystore.IsPointer(k.Hash) {
		return nil, fmt.Errorf("record %s: %w", r.Change.SequenceNumber, cause)
	}
	at := stamp.Of(r.Change.ApproximateCreationDateTime.Time)
	if at.IsZero() {
		return nil, fmt.Errorf("record %s: %w (%w)", r.Change.SequenceNumber, errUntimed, cause)
	}
	// Never before the change the item last showed (best effort: the old
	// image's last_change.at, if it reads).
	if lc, ok := oldRaw["last_change"].(map[string]any); ok {
		if s, ok := lc["at"].(string); ok {
			if prev, err := stamp.Parse(s); err == nil && prev > at {
				at = prev
			}
		}
	}
	before, after := rawChanges(oldRaw, newRaw)
	rec := Record{Type: TypeUnattributed, KeyID: k.ID, KeyPrefix: k.Prefix, Actor: keystore.Actor{UserID: UnattributedActor},
		OccurredAt: at, Before: before, After: after}
	return perOrg(r, rec, k.OrgID, newK.OrgID), nil
}

// perOrg files rec in org's log and, when the change moved the key to
// another organisation (to, when not ""), in that one's too: the one that
// lost the key and the one that gained it both see the change. The ids
// derive from the stream record and the organisation, so a redelivery
// yields the very same records.
func perOrg(r events.DynamoDBEventRecord, rec Record, org, to string) []Record {
	out := make([]Record, 0, 2)
	for i, o := range []string{org, to} {
		if o == "" || (i == 1 && o == org) {
			continue
		}
		seed := rec.Type // as before, for the organisation that had the key
		if i == 1 {
			seed += "\x00" + o
		}
		rec.OrgID, rec.ID = o, recordID(r, seed, rec.OccurredAt)
		rec.SK = rec.OccurredAt.String() + "#" + rec.ID
		out = append(out, rec)
	}
	return out
}

// rawChanges are the attributes that differ between two raw images, as
// before and after, without the key's hash, each string cut to
// maxShownValue and no more than maxShownAttributes of them: the record of
// a hand edit stays far below DynamoDB's item size whatever was written.
func rawChanges(oldRaw, newRaw map[string]any) (before, after map[string]any) {
	names := make([]string, 0, len(oldRaw)+len(newRaw))
	for n := range oldRaw {
		names = append(names, n)
	}
	for n := range newRaw {
		if _, ok := oldRaw[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	if oldRaw != nil {
		before = map[string]any{}
	}
	if newRaw != nil {
		after = map[string]any{}
	}
	shownCount := 0
	for _, n := range names {
		o, inOld := oldRaw[n]
		v, inNew := newRaw[n]
		if n == "key_hash" || (inOld && inNew && reflect.DeepEqual(o, v)) {
			continue
		}
		if shownCount++; shownCount > maxShownAttributes {
			break
		}
		if inOld {
			before[n] = clipValue(o)
		}
		if inNew {
			after[n] = clipValue(v)
		}
	}
	return before, after
}

const (
	maxShownValue      = 1024
	maxShownAttributes = 32
)

// clipValue is v with strings cut to maxShownValue bytes and anything that
// is not a string, number, boolean or list of strings summarised by its
// JSON, cut the same way.
func clipValue(v any) any {
	switch x := v.(type) {
	case string:
		return clip(x)
	case bool, float64, nil:
		return x
	case []string:
		if len(x) > maxShownAttributes {
			x = x[:maxShownAttributes]
		}
		out := make([]string, len(x))
		for i, s := range x {
			out[i] = clip(s)
		}
		return out
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "(unreadable)"
	}
	return clip(string(b))
}

func clip(s string) string {
	if len(s) <= maxShownValue {
		return s
	}
	return strings.ToValidUTF8(s[:maxShownValue], "") + "…"
}

// rawImage is a stream image as plain values (nil when there is none, or
// when even that cannot be read).
func rawImage(img map[string]events.DynamoDBAttributeValue) map[string]any {
	if len(img) == 0 {
		return nil
	}
	raw, err := json.Marshal(img)
	if err != nil {
		return nil
	}
	av, err := attributevalue.UnmarshalMapJSON(raw)
	if err != nil {
		return nil
	}
	var m map[string]any
	if attributevalue.UnmarshalMap(av, &m) != nil {
		return nil
	}
	return m
}

// keyOf reads the identifying strings of a raw key image.
func keyOf(m map[string]any) (k struct{ OrgID, ID, Prefix, Hash string }) {
	str := func(name string) string { s, _ := m[name].(string); return s }
	k.OrgID, k.ID, k.Prefix, k.Hash = str("org_id"), str("key_id"), str("prefix"), str("key_hash")
	return k
}

// errUntimed: a change that neither the item nor the stream record dates;
// its record would have no place in the log's time order.
var errUntimed = errors.New("change has no time")

// TypeUnattributed is a change to a key made without a new last_change: by
// no admin endpoint, so by no one the audit log can name.
const TypeUnattributed = "api_key.unattributed_change"

// UnattributedActor stands for the unknown writer of an unattributed change.
const UnattributedActor = "unknown"

func isKeyItem(k *keystore.Key) bool { return k != nil && k.ID != "" && !keystore.IsPointer(k.Hash) }

// changedFields lists, as before and after, the fields that say what a key
// grants or shows and differ between the images (a missing image counts as
// a key with nothing).
func changedFields(oldKey, newKey *keystore.Key) (before, after map[string]any) {
	var o, n keystore.Key
	if oldKey != nil {
		o = *oldKey
	}
	if newKey != nil {
		n = *newKey
	}
	before, after = map[string]any{}, map[string]any{}
	field := func(name string, ov, nv any, same bool) {
		if !same {
			before[name], after[name] = ov, nv
		}
	}
	field("org_id", o.OrgID, n.OrgID, o.OrgID == n.OrgID)
	field("key_id", o.ID, n.ID, o.ID == n.ID)
	field("prefix", o.Prefix, n.Prefix, o.Prefix == n.Prefix)
	field("status", string(o.Status), string(n.Status), o.Status == n.Status)
	field("scopes", list(o.Scopes), list(n.Scopes), slices.Equal(o.Scopes, n.Scopes))
	field("allowed_ips", list(o.AllowedIPs), list(n.AllowedIPs), slices.Equal(o.AllowedIPs, n.AllowedIPs))
	field("channels", list(o.Channels), list(n.Channels), slices.Equal(o.Channels, n.Channels))
	field("expires_at", nullableTime(o.ExpiresAt), nullableTime(n.ExpiresAt), o.ExpiresAt == n.ExpiresAt)
	field("label", o.Label, n.Label, o.Label == n.Label)
	field("version", o.Version, n.Version, o.Version == n.Version)
	field("revoked_at", nullableTime(o.RevokedAt), nullableTime(n.RevokedAt), o.RevokedAt == n.RevokedAt)
	field("rolled_to", nullable(o.RolledTo), nullable(n.RolledTo), o.RolledTo == n.RolledTo)
	field("created_at", nullableTime(o.CreatedAt), nullableTime(n.CreatedAt), o.CreatedAt == n.CreatedAt)
	field("exposed_at", nullableTime(o.ExposedAt), nullableTime(n.ExposedAt), o.ExposedAt == n.ExposedAt)
	field("exposure_url", nullable(o.ExposureURL), nullable(n.ExposureURL), o.ExposureURL == n.ExposureURL)
	return before, after
}

// unattributed records a change no admin request made. It is timed by the
// stream record and names no actor: a stale last_change on the item belongs
// to an earlier, attributed change, not to this one.
func unattributed(r events.DynamoDBEventRecord, oldKey, newKey *keystore.Key, before, after map[string]any) Record {
	k := oldKey // the key as its organisation knew it, when there was one
	if !isKeyItem(k) {
		k = newKey
	}
	// The stream's time is approximate (whole seconds in AWS, minutes in
	// DynamoDB Local); the change came after the last one the item shows.
	at := stamp.Of(r.Change.ApproximateCreationDateTime.Time)
	if oldKey != nil && oldKey.LastChange != nil && oldKey.LastChange.At > at {
		at = oldKey.LastChange.At
	}
	id := recordID(r, TypeUnattributed, at)
	if oldKey == nil {
		before = nil // created unseen
	}
	if newKey == nil {
		after = nil // deleted
	}
	return Record{
		OrgID:      k.OrgID,
		SK:         at.String() + "#" + id,
		ID:         id,
		Type:       TypeUnattributed,
		KeyID:      k.ID,
		KeyPrefix:  k.Prefix,
		Actor:      keystore.Actor{UserID: UnattributedActor},
		Trace:      keystore.Trace{},
		OccurredAt: at,
		Before:     before,
		After:      after,
	}
}

func newRecord(r events.DynamoDBEventRecord, k *keystore.Key, typ string, before, after map[string]any) Record {
	id := recordID(r, typ, k.LastChange.At)
	return Record{
		OrgID:      k.OrgID,
		SK:         k.LastChange.At.String() + "#" + id,
		ID:         id,
		Type:       typ,
		KeyID:      k.ID,
		KeyPrefix:  k.Prefix,
		Actor:      k.LastChange.Actor,
		Trace:      k.LastChange.Trace,
		OccurredAt: k.LastChange.At,
		Before:     before,
		After:      after,
	}
}

// recordID is "aud_" and a ULID whose time is the change's and whose random
// part is a hash of the stream record and type: the same for a redelivery.
func recordID(r events.DynamoDBEventRecord, typ string, at stamp.Time) string {
	sum := sha256.Sum256([]byte(r.EventSourceArn + "\x00" + r.Change.SequenceNumber + "\x00" + typ))
	var id ulid.ULID
	copy(id[6:], sum[:10])
	_ = id.SetTime(ulid.Timestamp(at.Time())) // a time before 1970 leaves the ULID's time zero
	return "aud_" + strings.ToLower(id.String())
}
