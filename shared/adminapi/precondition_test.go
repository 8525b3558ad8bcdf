package adminapi_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/flowella/apikeys/shared/adminapi"
)

// call invokes h through the Lambda JSON path and returns the whole response.
func call(t *testing.T, h adminapi.Proxy, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, map[string]any) {
	t.Helper()
	payload, _ := json.Marshal(ev)
	out, err := lambda.NewHandler(h).Invoke(context.Background(), payload)
	if err != nil {
		t.Fatal(err)
	}
	var resp events.APIGatewayProxyResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
		t.Fatalf("body is not JSON: %q", resp.Body)
	}
	return resp, body
}

// keyEvent is the named sample event aimed at key id, with If-Match values
// (none when ifMatch is empty) and, when body is not "", that body.
func keyEvent(t *testing.T, name, id, body string, ifMatch ...string) events.APIGatewayProxyRequest {
	t.Helper()
	ev := sampleEvent(t, name)
	ev.PathParameters = map[string]string{"id": id}
	ev.Path = strings.Replace(ev.Path, "key_01KMZ0000000000000000000AB", id, 1)
	ev.Headers = copyMap(ev.Headers)
	ev.MultiValueHeaders = copyMap(ev.MultiValueHeaders)
	delete(ev.Headers, adminapi.IdempotencyHeader)
	delete(ev.MultiValueHeaders, adminapi.IdempotencyHeader)
	if len(ifMatch) > 0 {
		ev.Headers[adminapi.IfMatchHeader] = ifMatch[len(ifMatch)-1]
		ev.MultiValueHeaders[adminapi.IfMatchHeader] = ifMatch
	}
	if body != "" {
		ev.Body = body
	}
	return ev
}

func createKey(t *testing.T, h *adminapi.Handlers) (id, etag string) {
	t.Helper()
	resp, body := call(t, h.Create(), withIdempotencyKey(sampleEvent(t, "create-key"), "", true, ""))
	if resp.StatusCode != 201 || resp.Headers["ETag"] == "" {
		t.Fatalf("create: %d %v %v", resp.StatusCode, resp.Headers, body)
	}
	return body["id"].(string), resp.Headers["ETag"]
}

// Issue 8: key responses carry an ETag; PATCH, revoke and roll honour
// If-Match, answering 412 precondition_failed on a mismatch (RFC 9110).
func TestETagAndIfMatch(t *testing.T) {
	h := newHandlers(t)
	id, created := createKey(t, h)
	get, _ := call(t, h.Get(), keyEvent(t, "get-key", id, ""))
	etag := get.Headers["ETag"]
	if get.StatusCode != 200 || etag != created || !strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `"`) || len(etag) < 4 {
		t.Fatalf("get: %d ETag %q (create gave %q)", get.StatusCode, etag, created)
	}

	// A matching If-Match: the change is made, and the ETag moves on.
	resp, body := call(t, h.Update(), keyEvent(t, "update-key", id, `{"label":"first"}`, etag))
	if resp.StatusCode != 200 || resp.Headers["ETag"] == etag || resp.Headers["ETag"] == "" {
		t.Fatalf("update with the current ETag: %d %v %v", resp.StatusCode, resp.Headers, body)
	}
	stale, current := etag, resp.Headers["ETag"]
	_, another := createKey(t, h)

	// The old ETag no longer matches: 412, and nothing changes.
	for _, tc := range []struct {
		name string
		ev   events.APIGatewayProxyRequest
		h    adminapi.Proxy
	}{
		{"patch", keyEvent(t, "update-key", id, `{"label":"lost"}`, stale), h.Update()},
		{"revoke", keyEvent(t, "revoke-key", id, "", stale), h.Revoke()},
		{"roll", keyEvent(t, "roll-key", id, "", stale), h.Roll()},
		{"weak tag", keyEvent(t, "update-key", id, `{"label":"lost"}`, "W/"+current), h.Update()},
		{"another key's tag", keyEvent(t, "update-key", id, `{"label":"lost"}`, another), h.Update()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := call(t, tc.h, tc.ev)
			msg, _ := body["error"].(map[string]any)["message"].(string)
			if resp.StatusCode != 412 || errorCode(body) != "precondition_failed" || !strings.Contains(msg, current) {
				t.Fatalf("%d %v", resp.StatusCode, body)
			}
		})
	}
	now, _ := call(t, h.Get(), keyEvent(t, "get-key", id, ""))
	if now.Headers["ETag"] != current {
		t.Fatalf("refused requests changed the key: ETag %s, want %s", now.Headers["ETag"], current)
	}

	// Any of a list matches; so does "*", for a key that exists.
	resp, _ = call(t, h.Update(), keyEvent(t, "update-key", id, `{"label":"second"}`, stale+", "+current))
	if resp.StatusCode != 200 {
		t.Fatalf("list with the current tag: %d", resp.StatusCode)
	}
	resp, _ = call(t, h.Update(), keyEvent(t, "update-key", id, `{"label":"third"}`, stale, resp.Headers["ETag"]))
	if resp.StatusCode != 200 {
		t.Fatalf("the current tag in a second If-Match header: %d", resp.StatusCode)
	}
	resp, body = call(t, h.Revoke(), keyEvent(t, "revoke-key", id, "", "*"))
	if resp.StatusCode != 200 || body["status"] != "revoked" || resp.Headers["ETag"] == "" {
		t.Fatalf("revoke with If-Match *: %d %v", resp.StatusCode, body)
	}
	// The key is revoked, whatever If-Match says.
	resp, body = call(t, h.Revoke(), keyEvent(t, "revoke-key", id, "", resp.Headers["ETag"]))
	if resp.StatusCode != 409 || errorCode(body) != "already_revoked" {
		t.Fatalf("second revoke: %d %v", resp.StatusCode, body)
	}
	// Another organisation's key is not found, If-Match or not.
	ev := keyEvent(t, "update-key", id, "", "*")
	ev.RequestContext.Authorizer = map[string]any{"principal_type": "session", "org_id": "org_other", "user_id": "u", "role": "owner"}
	if resp, _ := call(t, h.Update(), ev); resp.StatusCode != 404 {
		t.Fatalf("other organisation: %d", resp.StatusCode)
	}
}

func TestMalformedIfMatchIsRefused(t *testing.T) {
	h := newHandlers(t)
	id, etag := createKey(t, h)
	for _, v := range []string{``, `   `, `abc`, `"unterminated`, `"a" "b"`, `*, ` + etag, `"a b"`, `W/abc`, `**`} {
		t.Run(v, func(t *testing.T) {
			resp, body := call(t, h.Update(), keyEvent(t, "update-key", id, `{"label":"x"}`, v))
			if resp.StatusCode != 400 || errorCode(body) != "validation_failed" || !strings.Contains(resp.Body, "If-Match") {
				t.Fatalf("If-Match %q: %d %v", v, resp.StatusCode, body)
			}
		})
	}
	if now, _ := call(t, h.Get(), keyEvent(t, "get-key", id, "")); now.Headers["ETag"] != etag {
		t.Fatal("a refused request changed the key")
	}
}
