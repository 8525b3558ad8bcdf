package adminapi

import (
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/flowella/apikeys/shared/httpapi"
	"github.com/flowella/apikeys/shared/keystore"
)

// cursorKind is one kind of page cursor. Cursors are opaque to clients: a
// version tag and the position after which the next page starts (a key id,
// an audit sort key). The query they resume always runs in the caller's own
// organisation, so a cursor reaches nothing of another.
type cursorKind struct {
	tag   string
	valid func(position string) bool
}

var (
	keyCursor   = cursorKind{tag: "k1:", valid: keystore.ValidID}
	auditCursor = cursorKind{tag: "a1:", valid: validAuditSK}
)

// encode returns the cursor of position, or nil when there is no next page.
func (k cursorKind) encode(position string) *string {
	if position == "" {
		return nil
	}
	c := base64.RawURLEncoding.EncodeToString([]byte(k.tag + position))
	return &c
}

// decode returns the position of a cursor this kind issued.
func (k cursorKind) decode(cursor string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	position, ok := strings.CutPrefix(string(b), k.tag)
	if err != nil || !ok || !k.valid(position) {
		return "", httpapi.Invalid("cursor is not valid; pass next_cursor from the previous page unchanged",
			httpapi.Detail{Field: "cursor", Issue: "invalid"})
	}
	return position, nil
}

// parseLimit reads a page size of 1 to 100.
func parseLimit(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 100 {
		return 0, httpapi.Invalid("limit must be a whole number from 1 to 100", httpapi.Detail{Field: "limit", Issue: "invalid"})
	}
	return n, nil
}
