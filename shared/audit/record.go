// Package audit turns changes of API keys, as the keys table's stream
// reports them, into audit records, and stores and lists those records.
package audit

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/oklog/ulid/v2"

	"github.com/flowella/apikeys/shared/keystore"
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
)

// Types lists every record type.
var Types = []string{TypeCreated, TypeRevoked, TypeScopesChanged, TypeLabelChanged, TypeRolled, TypeIPsChanged, TypeChannels}

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
	OccurredAt string         `dynamodbav:"occurred_at" json:"occurred_at"`
	Before     map[string]any `dynamodbav:"before" json:"before"`
	After      map[string]any `dynamodbav:"after" json:"after"`
}

// FromStream turns one stream record into its audit records: none for a
// write that is not an admin change (a last-used update, a removal), one per
// kind of change otherwise. The ids derive from the stream record, so a
// redelivered record yields the very same records.
func FromStream(r events.DynamoDBEventRecord) ([]Record, error) {
	if r.EventName != "INSERT" && r.EventName != "MODIFY" {
		return nil, nil
	}
	newKey, err := image(r.Change.NewImage)
	if err != nil {
		return nil, fmt.Errorf("new image of %s: %w", r.Change.SequenceNumber, err)
	}
	if newKey == nil || newKey.LastChange == nil {
		return nil, nil // not an admin change: last-used writes remove last_change
	}
	oldKey, err := image(r.Change.OldImage)
	if err != nil {
		return nil, fmt.Errorf("old image of %s: %w", r.Change.SequenceNumber, err)
	}
	if oldKey != nil && oldKey.LastChange != nil && *oldKey.LastChange == *newKey.LastChange {
		return nil, nil // the same admin change seen again under another write
	}
	var out []Record
	add := func(typ string, before, after map[string]any) {
		out = append(out, newRecord(r, newKey, typ, before, after))
	}
	if r.EventName == "INSERT" || oldKey == nil {
		after := map[string]any{"label": newKey.Label, "scopes": newKey.Scopes, "status": string(newKey.Status)}
		if newKey.ExpiresAt != "" {
			after["expires_at"] = newKey.ExpiresAt
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
	if newKey.RolledTo != "" && oldKey.RolledTo != newKey.RolledTo {
		add(TypeRolled, map[string]any{"status": string(oldKey.Status), "expires_at": nullable(oldKey.ExpiresAt)},
			map[string]any{"status": string(newKey.Status), "expires_at": nullable(newKey.ExpiresAt), "rolled_to": newKey.RolledTo})
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
	var k keystore.Key
	if err := attributevalue.UnmarshalMap(av, &k); err != nil {
		return nil, err
	}
	return &k, nil
}

func newRecord(r events.DynamoDBEventRecord, k *keystore.Key, typ string, before, after map[string]any) Record {
	id := recordID(r, typ, k.LastChange.At)
	return Record{
		OrgID:      k.OrgID,
		SK:         k.LastChange.At + "#" + id,
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
func recordID(r events.DynamoDBEventRecord, typ, at string) string {
	sum := sha256.Sum256([]byte(r.EventSourceArn + "\x00" + r.Change.SequenceNumber + "\x00" + typ))
	var id ulid.ULID
	copy(id[6:], sum[:10])
	if t, err := parseTime(at); err == nil {
		_ = id.SetTime(ulid.Timestamp(t))
	}
	return "aud_" + strings.ToLower(id.String())
}
