package keystore

import (
	"strconv"

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
	var k Key
	err := attributevalue.UnmarshalMap(item, &k)
	return k, err
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
