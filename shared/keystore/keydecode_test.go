package keystore

import (
	"errors"
	"maps"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/flowella/apikeys/shared/stamp"
)

// fullKey sets every field of Key, and of its Change, so that a field added
// later without a case in decodeKeyDirect fails TestDecodeKeyDirectReadsEveryField.
func fullKey(t testing.TB) Key {
	t.Helper()
	at := stamp.Of(time.Date(2026, 11, 30, 12, 0, 0, 123e6, time.UTC))
	k := Key{Hash: "h", ID: "key_1", OrgID: "org_a", Prefix: "flwl_live_a1b2c3", Label: "n8n", Scopes: []string{"a", "b"},
		Status: StatusActive, CreatedAt: at, CreatedBy: "u_1", LastUsedAt: at.Add(time.Second), RevokedAt: at.Add(2 * time.Second),
		RevokedBy: "u_2", RevokeReason: "leaked", ExpiresAt: at.Add(time.Hour), AllowedIPs: []string{"203.0.113.0/24"},
		Channels: []string{"ch_1"}, RolledFrom: "key_0", RolledTo: "key_2", ExposedAt: at.Add(3 * time.Second),
		ExposureURL: "https://github.com/x", ExposureSource: "content", Version: 7,
		LastChange: &Change{Op: OpExpose, At: at, Actor: Actor{UserID: "u_1", IP: "203.0.113.7", UserAgent: "curl"},
			Trace: Trace{RequestID: "r", XRayTraceID: "x", TraceParent: "tp"}, ExposureURL: "https://github.com/x", ExposureSource: "content"}}
	var unset func(v reflect.Value, path string)
	unset = func(v reflect.Value, path string) {
		for i := range v.NumField() {
			f, name := v.Field(i), path+v.Type().Field(i).Name
			if f.IsZero() {
				t.Fatalf("fullKey leaves %s unset", name)
			}
			if f.Kind() == reflect.Pointer {
				f = f.Elem()
			}
			if f.Kind() == reflect.Struct {
				unset(f, name+".")
			}
		}
	}
	unset(reflect.ValueOf(k), "")
	return k
}

func unmarshalKey(item map[string]types.AttributeValue) (Key, error) {
	var k Key
	err := attributevalue.UnmarshalMap(item, &k)
	return k, err
}

// The direct path reads every attribute MarshalMap writes for a key.
func TestDecodeKeyDirectReadsEveryField(t *testing.T) {
	want := fullKey(t)
	item, err := attributevalue.MarshalMap(want)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := decodeKeyDirect(item)
	if !ok {
		t.Fatalf("the direct path cannot read a key item MarshalMap wrote: %v", item)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("\n got %+v\nwant %+v", got, want)
	}
	// And a key with only what Create requires (the others NULL or left out).
	bare := Key{Hash: "h", ID: "key_1", OrgID: "org_a", Prefix: "p", Label: "l", Status: StatusActive, CreatedAt: want.CreatedAt}
	item, _ = attributevalue.MarshalMap(bare)
	if got, ok := decodeKeyDirect(item); !ok || !reflect.DeepEqual(got, bare) {
		t.Fatalf("bare key: %+v %v", got, ok)
	}
}

// decodeKey gives what UnmarshalMap gives — the key or an error — for every
// attribute of a full item replaced, in turn, by each kind of value,
// well-formed or not.
func TestDecodeKeyIsUnmarshalMap(t *testing.T) {
	item, err := attributevalue.MarshalMap(fullKey(t))
	if err != nil {
		t.Fatal(err)
	}
	S := func(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }
	N := func(s string) types.AttributeValue { return &types.AttributeValueMemberN{Value: s} }
	values := []types.AttributeValue{
		&types.AttributeValueMemberNULL{Value: true}, &types.AttributeValueMemberNULL{Value: false},
		S(""), S("x"), S("2026-11-30T12:00:00Z"), S("2026-11-30T12:00:00.5Z"), S("2026-11-30"), S("2026-11-30T13:00:00+01:00"),
		N("5"), N("-5"), N("+5"), N("05"), N("5.5"), N("1e2"), N("99999999999999999999"),
		&types.AttributeValueMemberBOOL{Value: true}, &types.AttributeValueMemberB{Value: []byte("x")},
		&types.AttributeValueMemberL{}, &types.AttributeValueMemberL{Value: []types.AttributeValue{S("a"), S("b")}},
		&types.AttributeValueMemberL{Value: []types.AttributeValue{N("1")}},
		&types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberNULL{Value: true}}},
		&types.AttributeValueMemberSS{Value: []string{"a", "b"}}, &types.AttributeValueMemberNS{Value: []string{"1"}},
		&types.AttributeValueMemberM{}, &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"op": S("create")}},
		&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"Op": S("create")}},
		&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"at": S("bad")}},
		&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"actor": &types.AttributeValueMemberM{
			Value: map[string]types.AttributeValue{"user_id": S("u"), "ip": N("1")}}}},
		&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"trace": S("t")}},
	}
	check := func(t *testing.T, item map[string]types.AttributeValue) {
		t.Helper()
		got, gotErr := decodeKey(item)
		if CheckNames(item) != nil { // a name in another case: refused, unlike UnmarshalMap
			if !errors.Is(gotErr, ErrAmbiguousItem) {
				t.Fatalf("%v: decodeKey: %v, want ErrAmbiguousItem", item, gotErr)
			}
			return
		}
		want, wantErr := unmarshalKey(item)
		if (wantErr == nil) != (gotErr == nil) || (wantErr != nil && wantErr.Error() != gotErr.Error()) {
			t.Fatalf("%v: UnmarshalMap: %v; decodeKey: %v", item, wantErr, gotErr)
		}
		if wantErr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%v:\n got %+v\nwant %+v", item, got, want)
		}
	}
	check(t, item)
	for name := range item {
		for _, v := range values {
			changed := maps.Clone(item)
			changed[name] = v
			check(t, changed)
			// Inside the change record too.
			if name == "last_change" {
				for sub := range item[name].(*types.AttributeValueMemberM).Value {
					m := maps.Clone(item[name].(*types.AttributeValueMemberM).Value)
					m[sub] = v
					changed[name] = &types.AttributeValueMemberM{Value: m}
					check(t, changed)
				}
			}
		}
		// Left out, and under another name.
		changed := maps.Clone(item)
		delete(changed, name)
		check(t, changed)
		changed["X"+name] = item[name]
		check(t, changed)
		delete(changed, "X"+name)
		// Under another case, which UnmarshalMap would match: refused, alone
		// or beside the field's own name (where UnmarshalMap reads either,
		// in no set order).
		changed[upper(name)] = item[name]
		if _, err := decodeKey(changed); !errors.Is(err, ErrAmbiguousItem) {
			t.Fatalf("%s alone: %v, want ErrAmbiguousItem", upper(name), err)
		}
		beside := maps.Clone(item)
		beside[upper(name)] = item[name]
		if _, err := decodeKey(beside); !errors.Is(err, ErrAmbiguousItem) {
			t.Fatalf("%s beside %s: %v, want ErrAmbiguousItem", upper(name), name, err)
		}
	}
	// The revived key the check is for: "Status":"active" beside a revoked
	// key's "status" is refused every time, not read either way.
	revoked := maps.Clone(item)
	revoked["status"] = S(string(StatusRevoked))
	revoked["Status"] = S(string(StatusActive))
	for range 50 {
		if k, err := decodeKey(revoked); !errors.Is(err, ErrAmbiguousItem) {
			t.Fatalf("read as %s, %v; want ErrAmbiguousItem", k.Status, err)
		}
	}
	// In the last change too.
	lc := maps.Clone(item["last_change"].(*types.AttributeValueMemberM).Value)
	lc["AT"] = lc["at"]
	withLC := maps.Clone(item)
	withLC["last_change"] = &types.AttributeValueMemberM{Value: lc}
	if _, err := decodeKey(withLC); !errors.Is(err, ErrAmbiguousItem) {
		t.Fatalf("last_change.AT: %v, want ErrAmbiguousItem", err)
	}
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// BenchmarkDecodeKey compares the direct path with UnmarshalMap on a full
// key item.
func BenchmarkDecodeKey(b *testing.B) {
	item, err := attributevalue.MarshalMap(fullKey(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeKey(item); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("UnmarshalMap", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := unmarshalKey(item); err != nil {
				b.Fatal(err)
			}
		}
	})
}
