package adminapi

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/flowella/apikeys/shared/httpapi"
	"github.com/flowella/apikeys/shared/keystore"
)

const (
	maxLabel  = 100
	maxReason = 500
	// Expiry bounds: far enough ahead to use the key, near enough to mean it.
	minExpiry = time.Minute
	maxExpiry = 5 * 366 * 24 * time.Hour
)

// cleanExpiry checks an optional expires_at and returns it in storage form
// ("" for a key that never expires).
func cleanExpiry(raw *string, now time.Time) (string, error) {
	if raw == nil {
		return "", nil
	}
	t, err := time.Parse(time.RFC3339Nano, *raw)
	if err != nil {
		return "", httpapi.Invalid("expires_at must be an RFC 3339 time, such as 2027-01-31T00:00:00Z",
			httpapi.Detail{Field: "expires_at", Issue: "invalid"})
	}
	if t.Before(now.Add(minExpiry)) || t.After(now.Add(maxExpiry)) {
		return "", httpapi.Invalid("expires_at must be between one minute and five years from now",
			httpapi.Detail{Field: "expires_at", Issue: "out_of_range"})
	}
	return keystore.FormatTime(t), nil
}

// cleanLabel trims a label and checks its length and characters.
func cleanLabel(raw string) (string, error) {
	label := strings.TrimSpace(raw)
	n := utf8.RuneCountInString(label)
	if n == 0 || n > maxLabel {
		return "", httpapi.Invalid(fmt.Sprintf("label must be 1 to %d characters after trimming; it has %d", maxLabel, n),
			httpapi.Detail{Field: "label", Issue: "length"})
	}
	if err := printable("label", label); err != nil {
		return "", err
	}
	return label, nil
}

func cleanReason(raw string) (string, error) {
	reason := strings.TrimSpace(raw)
	if n := utf8.RuneCountInString(reason); n > maxReason {
		return "", httpapi.Invalid(fmt.Sprintf("reason must be at most %d characters; it has %d", maxReason, n),
			httpapi.Detail{Field: "reason", Issue: "length"})
	}
	if err := printable("reason", reason); err != nil {
		return "", err
	}
	return reason, nil
}

func printable(field, s string) error {
	for _, r := range s {
		if unicode.IsControl(r) {
			return httpapi.Invalid(field+" must not contain control characters (such as newlines or tabs)",
				httpapi.Detail{Field: field, Issue: "control_character"})
		}
	}
	return nil
}

// keyID takes the {id} path parameter and checks its shape, so a malformed
// id costs no DynamoDB call.
func keyID(pathParams map[string]string) (string, error) {
	id := pathParams["id"]
	if !keystore.ValidID(id) {
		return "", httpapi.NotFound("no API key with that id in your organisation (ids look like key_01J…)")
	}
	return id, nil
}
