package secretscan

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Match is one token GitHub found: the token, the token type GitHub knows
// it by (the one registered for Flowella), and where it was found.
type Match struct {
	Token  string `json:"token"`
	Type   string `json:"type"`
	URL    string `json:"url"`
	Source string `json:"source"` // content, commit, pull_request_title, issue_comment, …
}

// Labels of the feedback GitHub receives for each token.
const (
	TruePositive  = "true_positive"  // a Flowella key of this deployment, whatever its status
	FalsePositive = "false_positive" // not one: a look-alike, a typo, another environment's key
)

// Feedback is GitHub's feedback entry for one token. It names the token by
// its SHA-256 (token_hash), as the contract allows, so that the response
// never carries the secret back.
type Feedback struct {
	TokenHash string `json:"token_hash"`
	TokenType string `json:"token_type"`
	Label     string `json:"label"`
}

// ErrMalformed: the body is not GitHub's report, a JSON array of matches
// each with a non-empty token.
var ErrMalformed = errors.New("malformed report")

// report reads member names as GitHub writes them, each at most once; it
// accepts members it does not know, which GitHub may add.
var report = json.JoinOptions(
	json.MatchCaseInsensitiveNames(false),
	jsontext.AllowDuplicateNames(false),
	jsontext.AllowInvalidUTF8(false),
)

// ParseReport reads a report body: a JSON array of matches. Anything else —
// not JSON, not an array, an entry that is not an object, a token missing,
// empty or not a string, a field of the wrong type, data after the array —
// is ErrMalformed, with what is wrong.
func ParseReport(body []byte) ([]Match, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(body), report)
	if dec.PeekKind() != '[' {
		return nil, fmt.Errorf("%w: the body must be a JSON array of {token, type, url, source}", ErrMalformed)
	}
	var matches []Match
	if err := json.UnmarshalDecode(dec, &matches, report); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if _, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: data after the JSON array", ErrMalformed)
	}
	for i, m := range matches {
		if m.Token == "" {
			return nil, fmt.Errorf("%w: entry %d has no token", ErrMalformed, i)
		}
	}
	return matches, nil
}
