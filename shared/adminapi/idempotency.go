package adminapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/flowella/apikeys/shared/httpapi"
	"github.com/flowella/apikeys/shared/keystore"
)

// IdempotencyHeader names the header that makes a create or roll safe to
// retry, as Stripe offers it.
const IdempotencyHeader = "Idempotency-Key"

// MaxIdempotencyKey bounds the header's length (Stripe's limit).
const MaxIdempotencyKey = 255

// idempotencyOf reads the Idempotency-Key header of a create or roll (nil
// when the request has none) and fingerprints the request: route, the key it
// names and its body as canonical JSON, so a retry that serialises the same
// body differently still matches. Call it after the body is validated.
func idempotencyOf(req events.APIGatewayProxyRequest, route, keyID string) (*keystore.Idempotency, error) {
	key, ok := httpapi.LookupHeader(req, IdempotencyHeader)
	if !ok {
		return nil, nil
	}
	if err := validIdempotencyKey(key); err != nil {
		return nil, err
	}
	body, err := httpapi.Body(req)
	if err != nil {
		return nil, err
	}
	canonical, err := canonicalJSON(body)
	if err != nil {
		return nil, fmt.Errorf("fingerprint request: %w", err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", route, keyID)
	h.Write(canonical)
	return &keystore.Idempotency{Key: key, Fingerprint: hex.EncodeToString(h.Sum(nil))}, nil
}

func validIdempotencyKey(key string) error {
	if len(key) == 0 || len(key) > MaxIdempotencyKey {
		return httpapi.Invalid(fmt.Sprintf("%s must be 1 to %d characters; it has %d (a UUID is a good choice)",
			IdempotencyHeader, MaxIdempotencyKey, len(key)),
			httpapi.Detail{Field: IdempotencyHeader, Issue: "length"})
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x20 || key[i] > 0x7e {
			return httpapi.Invalid(IdempotencyHeader+" must be printable ASCII characters (a UUID is a good choice)",
				httpapi.Detail{Field: IdempotencyHeader, Issue: "invalid"})
		}
	}
	return nil
}

// canonicalJSON re-encodes a validated JSON body with sorted object keys and
// no insignificant whitespace; numbers keep their text. An empty body (a roll
// with the defaults) reads as {}.
func canonicalJSON(body []byte) ([]byte, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return []byte("{}"), nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// replayError answers a create or roll that an earlier request with the same
// Idempotency-Key already did. The secret was shown only to that request
// and is not stored, so the answer is the key and what to do about it.
func replayError(r *keystore.ReplayError, resource keyResource) *httpapi.Error {
	id := r.Key.ID
	done := "created API key " + id
	if r.Op == keystore.OpRoll {
		done = fmt.Sprintf("rolled API key %s to %s", r.Key.RolledFrom, id)
	}
	return &httpapi.Error{
		Status: http.StatusConflict,
		Code:   httpapi.CodeIdempotentReplay,
		Message: fmt.Sprintf("an earlier request with this %s already %s. The secret of %s was shown only in that "+
			"response and cannot be shown again; if you do not have it, roll the key (POST /v1/api-keys/%s/roll) "+
			"to get a new secret, or revoke it (POST /v1/api-keys/%s/revoke)", IdempotencyHeader, done, id, id, id),
		Key: resource,
	}
}
