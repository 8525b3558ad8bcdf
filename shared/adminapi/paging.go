package adminapi

import (
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"strconv"
	"strings"

	"github.com/flowella/apikeys/shared/httpapi"
	"github.com/flowella/apikeys/shared/keystore"
)

// cursorKind is one kind of page cursor. Cursors are opaque to clients: a
// version tag, the position after which the next page starts (a key id, an
// audit sort key) and a CRC-32 of both, in unpadded base64url. The query
// they resume always runs in the caller's own organisation, so a cursor
// reaches nothing of another; the checksum and the one accepted spelling
// make a cursor that was cut short or edited a 400 rather than a page that
// starts somewhere else.
type cursorKind struct {
	tag   string
	valid func(position string) bool
}

var (
	keyCursor   = cursorKind{tag: "k2:", valid: keystore.ValidID}
	auditCursor = cursorKind{tag: "a2:", valid: validAuditSK}
)

var cursorEncoding = base64.RawURLEncoding.Strict()

// encode returns the cursor of position, or nil when there is no next page.
func (k cursorKind) encode(position string) *string {
	if position == "" {
		return nil
	}
	b := []byte(k.tag + position)
	b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
	c := cursorEncoding.EncodeToString(b)
	return &c
}

// decode returns the position of a cursor this kind issued, exactly as it
// issued it.
func (k cursorKind) decode(cursor string) (string, error) {
	bad := httpapi.Invalid("cursor is not valid; pass next_cursor from the previous page unchanged",
		httpapi.Detail{Field: "cursor", Issue: "invalid"})
	b, err := cursorEncoding.DecodeString(cursor)
	if err != nil || len(b) < len(k.tag)+4 {
		return "", bad
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	position, ok := strings.CutPrefix(string(body), k.tag)
	if !ok || crc32.ChecksumIEEE(body) != sum || !k.valid(position) {
		return "", bad
	}
	// The decoder skips newlines; only the spelling encode gives is accepted.
	if again := k.encode(position); again == nil || *again != cursor {
		return "", bad
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
