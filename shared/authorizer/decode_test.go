package authorizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// decodeSeeds are events and near-events for FuzzDecodeEvent and
// TestDecodeEventIsJSONUnmarshal: the sample events, and what exercises
// encoding/json's corners (case folding, null, merging, escapes, invalid
// UTF-8, lone surrogates, wrong types, bad syntax).
func decodeSeeds(t testing.TB) [][]byte {
	t.Helper()
	seeds := [][]byte{
		[]byte(`{"type":"TOKEN","authorizationToken":"Bearer flwl_live_x","methodArn":"arn:aws:execute-api:eu-west-1:1:a/prod/GET/v1/whoami"}`),
		[]byte(`{"version":"2.0","type":"REQUEST","routeKey":"GET /v1/contacts/{id}","pathParameters":{"id":"c_1"},"headers":{"authorization":"Bearer x"},` +
			`"requestContext":{"requestId":"r-1","stage":"$default","http":{"method":"GET","path":"/v1/contacts/c_1","sourceIp":"203.0.113.7"}}}`),
		[]byte(`{"TYPE":"REQUEST","HttpMethod":"GET","ſtage":1,"requestcontext":{"STAGE":"prod","Identity":{"SOURCEIP":"1.2.3.4"}}}`),
		[]byte(`{"headers":{"a":"1"},"headers":{"b":"2"},"headers":null,"headers":{"c":null}}`),
		[]byte(`{"multiValueHeaders":{"a":["x","y"],"b":[],"c":null,"d":[null,"z"]}}`),
		[]byte(`{"type":null,"requestContext":null,"requestContext":{"requestId":"r"},"requestContext":{"stage":"s"}}`),
		[]byte(`{"path":"\u00e9\ud83d\ude00\ud800\udc00x\ud800\u0041\udc00\\\/\"\b\f\n\r\t","resource":"` + "\xff\xfe\xc3" + `é"}`),
		[]byte(`{"path":"\ud800\ud800\udc00","x":[1,-0.5e+3,true,false,null,{"y":[[]]}],"z":-0,"w":1E9}`),
		[]byte(`{"\u0074ype":"TOKEN","unknown":{"a":[1,2,{"b":"c"}]}}`),
		[]byte(` null `), []byte(`{}`), []byte(``), []byte(`[]`), []byte(`"s"`), []byte(`1`), []byte(`true`),
		[]byte(`{"type":1}`), []byte(`{"headers":[]}`), []byte(`{"headers":{"a":1}}`), []byte(`{"requestContext":"x"}`),
		[]byte(`{"multiValueHeaders":{"a":"x"}}`), []byte(`{"multiValueHeaders":{"a":[1]}}`),
		[]byte(`{"type":"a",}`), []byte(`{"type" "a"}`), []byte(`{"type":"a"} x`), []byte(`{"type":"a` + "\n" + `"}`),
		[]byte(`{"x":01}`), []byte(`{"x":1.}`), []byte(`{"x":-}`), []byte(`{"x":1e}`), []byte(`{"x":tru}`), []byte(`{"x":"\x"}`),
		[]byte(`{"x":"\u12"}`), []byte(`{a:1}`), []byte(`{"x":[1,]}`), []byte(`{"x":[1 2]}`), []byte(`{"type":"a"`),
	}
	for _, name := range []string{"authorizer-request.json", "authorizer-token.json", "authorizer-http-v2.json"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "events", name))
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	return seeds
}

// checkDecode fails when decodeEvent and json.Unmarshal disagree on data:
// one refuses what the other accepts, or they decode different events.
func checkDecode(t *testing.T, data []byte) {
	t.Helper()
	var want, got Event
	wantErr := json.Unmarshal(data, &want)
	gotErr := decodeEvent(data, &got)
	if (wantErr == nil) != (gotErr == nil) {
		t.Fatalf("%q: json.Unmarshal: %v; decodeEvent: %v", data, wantErr, gotErr)
	}
	if wantErr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n got %#v\nwant %#v", data, got, want)
	}
}

func TestDecodeEventIsJSONUnmarshal(t *testing.T) {
	for _, s := range decodeSeeds(t) {
		checkDecode(t, s)
	}
}

// FuzzDecodeEvent holds decodeEvent to json.Unmarshal on any input:
// go test -fuzz FuzzDecodeEvent ./shared/authorizer
func FuzzDecodeEvent(f *testing.F) {
	for _, s := range decodeSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(checkDecode)
}
