package keystore

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/flowella/apikeys/shared/stamp"
)

// decodeKey is attributevalue.UnmarshalMap(item, &k), faster on the items
// this package writes: the authorizer decodes one on every request, and
// reflection cost about as much as the rest of its decision. Items in the
// shapes MarshalMap writes (S, N, L of S, SS, M, NULL, under the exact
// attribute names) are read directly; anything else — an unknown or
// differently-cased name, another type, a malformed time or number — goes
// through UnmarshalMap, so the result, and every error, is the same.
func decodeKey(item map[string]types.AttributeValue) (Key, error) {
	if k, ok := decodeKeyDirect(item); ok {
		return k, nil
	}
	// Only an item with a name the direct path does not know gets here, so
	// only here can a name differ from a field's in case alone.
	if err := CheckNames(item); err != nil {
		return Key{}, err
	}
	var k Key
	err := attributevalue.UnmarshalMap(item, &k)
	return k, err
}

// ErrAmbiguousItem is a stored key item with an attribute whose name
// differs from one of the key's fields in case alone ("Status" beside
// "status"): attributevalue reads either into the field, in no set order,
// so a hand-written "Status":"active" could revive a revoked key. Such an
// item is refused, never read.
var ErrAmbiguousItem = errors.New("stored key item names a field in another case")

// CheckNames refuses (ErrAmbiguousItem) an item with an attribute named
// like a field of Key, or of its last change, in another case.
func CheckNames(item map[string]types.AttributeValue) error {
	if err := checkNames(item, keyNames); err != nil {
		return err
	}
	if m, ok := item["last_change"].(*types.AttributeValueMemberM); ok {
		return checkNames(m.Value, changeNames)
	}
	return nil
}

var keyNames, changeNames = tagNames(reflect.TypeFor[Key]()), tagNames(reflect.TypeFor[Change]())

func checkNames(item map[string]types.AttributeValue, fields []string) error {
	for name := range item {
		for _, f := range fields {
			if name != f && strings.EqualFold(name, f) {
				return fmt.Errorf("%w: %q beside the field %q", ErrAmbiguousItem, name, f)
			}
		}
	}
	return nil
}

// tagNames are the attribute names of t's fields, as their dynamodbav tags
// give them (or the field's name).
func tagNames(t reflect.Type) []string {
	var names []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("dynamodbav"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names = append(names, name)
	}
	return names
}

// decodeKeyDirect reads item, or reports that it cannot vouch for the
// result.
func decodeKeyDirect(item map[string]types.AttributeValue) (Key, bool) {
	var k Key
	for name, av := range item {
		var ok bool
		switch name {
		case "key_hash":
			ok = avString(av, &k.Hash)
		case "key_id":
			ok = avString(av, &k.ID)
		case "org_id":
			ok = avString(av, &k.OrgID)
		case "prefix":
			ok = avString(av, &k.Prefix)
		case "label":
			ok = avString(av, &k.Label)
		case "scopes":
			ok = avStrings(av, &k.Scopes)
		case "status":
			ok = avString(av, (*string)(&k.Status))
		case "created_at":
			ok = avTime(av, &k.CreatedAt)
		case "created_by":
			ok = avString(av, &k.CreatedBy)
		case "last_used_at":
			ok = avTime(av, &k.LastUsedAt)
		case "revoked_at":
			ok = avTime(av, &k.RevokedAt)
		case "revoked_by":
			ok = avString(av, &k.RevokedBy)
		case "revoke_reason":
			ok = avString(av, &k.RevokeReason)
		case "expires_at":
			ok = avTime(av, &k.ExpiresAt)
		case "allowed_ips":
			ok = avStrings(av, &k.AllowedIPs)
		case "channels":
			ok = avStrings(av, &k.Channels)
		case "rolled_from":
			ok = avString(av, &k.RolledFrom)
		case "rolled_to":
			ok = avString(av, &k.RolledTo)
		case "exposed_at":
			ok = avTime(av, &k.ExposedAt)
		case "exposure_url":
			ok = avString(av, &k.ExposureURL)
		case "exposure_source":
			ok = avString(av, &k.ExposureSource)
		case "last_change":
			ok = avChange(av, &k.LastChange)
		case "version":
			ok = avInt64(av, &k.Version)
		}
		if !ok {
			return Key{}, false
		}
	}
	return k, true
}

// Each avX reads one attribute into a zero field; NULL leaves it zero, as
// UnmarshalMap does. False means "not a shape read here".

func avString(av types.AttributeValue, p *string) bool {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		*p = v.Value
		return true
	case *types.AttributeValueMemberNULL:
		return true
	}
	return false
}

func avStrings(av types.AttributeValue, p *[]string) bool {
	switch v := av.(type) {
	case *types.AttributeValueMemberL:
		s := make([]string, len(v.Value))
		for i, e := range v.Value {
			es, ok := e.(*types.AttributeValueMemberS)
			if !ok {
				return false
			}
			s[i] = es.Value
		}
		*p = s
		return true
	case *types.AttributeValueMemberSS:
		*p = append(make([]string, 0, len(v.Value)), v.Value...)
		return true
	case *types.AttributeValueMemberNULL:
		return true
	}
	return false
}

func avTime(av types.AttributeValue, p *stamp.Time) bool {
	switch av.(type) {
	case *types.AttributeValueMemberS:
		// A malformed time fails here and again in UnmarshalMap, which
		// reports it.
		return p.UnmarshalDynamoDBAttributeValue(av) == nil
	case *types.AttributeValueMemberNULL:
		return true
	}
	return false
}

func avInt64(av types.AttributeValue, p *int64) bool {
	switch v := av.(type) {
	case *types.AttributeValueMemberN:
		n, err := strconv.ParseInt(v.Value, 10, 64)
		*p = n
		return err == nil
	case *types.AttributeValueMemberNULL:
		return true
	}
	return false
}

func avChange(av types.AttributeValue, p **Change) bool {
	switch v := av.(type) {
	case *types.AttributeValueMemberM:
		c := &Change{}
		for name, av := range v.Value {
			var ok bool
			switch name {
			case "op":
				ok = avString(av, &c.Op)
			case "at":
				ok = avTime(av, &c.At)
			case "actor":
				ok = avMap(av, func(name string, av types.AttributeValue) bool {
					switch name {
					case "user_id":
						return avString(av, &c.Actor.UserID)
					case "ip":
						return avString(av, &c.Actor.IP)
					case "user_agent":
						return avString(av, &c.Actor.UserAgent)
					}
					return false
				})
			case "trace":
				ok = avMap(av, func(name string, av types.AttributeValue) bool {
					switch name {
					case "request_id":
						return avString(av, &c.Trace.RequestID)
					case "xray_trace_id":
						return avString(av, &c.Trace.XRayTraceID)
					case "traceparent":
						return avString(av, &c.Trace.TraceParent)
					}
					return false
				})
			case "exposure_url":
				ok = avString(av, &c.ExposureURL)
			case "exposure_source":
				ok = avString(av, &c.ExposureSource)
			}
			if !ok {
				return false
			}
		}
		*p = c
		return true
	case *types.AttributeValueMemberNULL:
		return true
	}
	return false
}

// avMap reads a map attribute into a struct's fields with field; NULL
// leaves them zero.
func avMap(av types.AttributeValue, field func(name string, av types.AttributeValue) bool) bool {
	switch v := av.(type) {
	case *types.AttributeValueMemberM:
		for name, av := range v.Value {
			if !field(name, av) {
				return false
			}
		}
		return true
	case *types.AttributeValueMemberNULL:
		return true
	}
	return false
}
