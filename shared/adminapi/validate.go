package adminapi

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/flowella/apikeys/shared/httpapi"
	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/stamp"
)

const (
	maxLabel  = 100
	maxReason = 500
	// Expiry bounds: far enough ahead to use the key, near enough to mean it.
	minExpiry = time.Minute
	// maxExpiryYears is calendar years: five years ahead to the second
	// (time.AddDate), not a count of days.
	maxExpiryYears = 5
)

// MaxChannels bounds the channels a key may be limited to.
const MaxChannels = 100

// cleanChannels checks channel ids (letters, digits, _ and -, up to 64
// characters) and de-duplicates them. nil or empty means every channel.
func cleanChannels(raw []string) ([]string, error) {
	return cleanList(raw, "channels", MaxChannels,
		"channels entries must be channel ids: 1 to 64 letters, digits, _ or -",
		func(c string) (string, bool) { return c, validChannel(c) })
}

// cleanList checks a list field: at most max entries, each turned into its
// canonical form by parse, duplicates dropped, every bad entry named in one
// 400 with message.
func cleanList(raw []string, field string, max int, message string, parse func(string) (string, bool)) ([]string, error) {
	if len(raw) > max {
		return nil, httpapi.Invalid(fmt.Sprintf("%s takes at most %d entries", field, max),
			httpapi.Detail{Field: field, Issue: "too_many"})
	}
	var out []string
	var bad []httpapi.Detail
	for _, entry := range raw {
		v, ok := parse(entry)
		if !ok {
			bad = append(bad, httpapi.Detail{Field: field, Issue: "invalid", Value: clip(entry)})
			continue
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	if len(bad) > 0 {
		return nil, httpapi.Invalid(message, bad...)
	}
	return out, nil
}

func validChannel(c string) bool {
	if len(c) == 0 || len(c) > 64 {
		return false
	}
	for _, r := range c {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// optionalList reads a PATCH list field: absent leaves it alone (nil), an
// array is cleaned (an empty one lifts the restriction), anything else is a 400.
func optionalList(raw json.RawMessage, field, what string, clean func([]string) ([]string, error)) (*[]string, error) {
	if raw == nil {
		return nil, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil || list == nil {
		return nil, httpapi.Invalid(field+" must be an array of "+what+" ([] lifts the restriction)",
			httpapi.Detail{Field: field, Issue: "wrong_type"})
	}
	out, err := clean(list)
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []string{}
	}
	return &out, nil
}

// MaxAllowedIPs bounds a key's IP allow-list.
const MaxAllowedIPs = 50

// cleanAllowedIPs parses IP addresses and CIDR ranges (IPv4 and IPv6) into
// canonical prefixes, de-duplicated. nil or empty means any address.
func cleanAllowedIPs(raw []string) ([]string, error) {
	return cleanList(raw, "allowed_ips", MaxAllowedIPs,
		"allowed_ips entries must be IP addresses or CIDR ranges, such as 203.0.113.0/24 or 2001:db8::/32",
		func(s string) (string, bool) {
			p, err := parsePrefix(strings.TrimSpace(s))
			return p.String(), err == nil
		})
}

// parsePrefix reads "203.0.113.7" as 203.0.113.7/32 and "10.0.0.1/8" as 10.0.0.0/8.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if p.Addr().Is4In6() {
			if p.Bits() < 96 {
				return netip.Prefix{}, fmt.Errorf("%s spans more than IPv4", s)
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// cleanExpiry checks an optional expires_at and returns it (zero for a key
// that never expires).
func cleanExpiry(raw *string, now time.Time) (stamp.Time, error) {
	if raw == nil {
		return 0, nil
	}
	t, err := time.Parse(time.RFC3339Nano, *raw)
	if err != nil {
		return 0, httpapi.Invalid("expires_at must be an RFC 3339 time, such as 2027-01-31T00:00:00Z",
			httpapi.Detail{Field: "expires_at", Issue: "invalid"})
	}
	if t.Before(now.Add(minExpiry)) || t.After(now.AddDate(maxExpiryYears, 0, 0)) {
		return 0, httpapi.Invalid("expires_at must be between one minute and five years from now",
			httpapi.Detail{Field: "expires_at", Issue: "out_of_range"})
	}
	return stamp.Of(t), nil
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

// printable refuses, in free text that people read in lists and logs, what
// they cannot see or what changes how the rest is shown: control (Cc) and
// format (Cf: zero-width, bidi overrides as in "prod \u202egnp.exe")
// characters, line and paragraph separators (Zl, Zp), and invalid UTF-8.
func printable(field, s string) error {
	for i, n := 0, 1; i < len(s); n++ {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return httpapi.Invalid(fmt.Sprintf("%s is not valid UTF-8 text (at character %d)", field, n),
				httpapi.Detail{Field: field, Issue: "invalid_utf8"})
		}
		if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp) {
			return httpapi.Invalid(fmt.Sprintf("%s must not contain %U (character %d): control, format "+
				"(zero-width or bidirectional) and line or paragraph separator characters are not allowed", field, r, n),
				httpapi.Detail{Field: field, Issue: "invalid_character", Value: fmt.Sprintf("%U", r)})
		}
		i += size
	}
	return nil
}

// queryParams are the query parameters each endpoint takes, by the name it
// logs; every other endpoint takes none. endpoint refuses the rest (and any
// given twice) before the handler runs, so nothing has changed yet.
var queryParams = map[string][]string{
	"list":         listParams,
	"audit-events": auditParams,
	"activity":     activityParams,
	"usage":        usageParams,
	"exposure":     exposureParams,
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
