// Package textclip shortens text a caller chose before it is stored or
// logged: to a number of bytes, never splitting a UTF-8 character
// (DynamoDB refuses strings that are not UTF-8, and a log line's reader
// would see a broken one).
package textclip

import "unicode/utf8"

// Clip is s cut to at most n bytes, at a character boundary.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
