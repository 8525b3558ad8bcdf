// Command report-leak reports a key to the running local stack as GitHub's
// secret scanning reports a token it found in public code: a JSON array of
// {token, type, url, source}, signed with the local test key pair whose
// public key make run publishes (local/localscan). `make report-leak
// KEY=flwl_test_…` runs it; watch the key revoke itself.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/flowella/apikeys/local/localscan"
)

func main() {
	key := flag.String("key", "", "the key to report (flwl_test_…)")
	url := flag.String("url", "https://github.com/octo-org/octo-repo/blob/main/.env", "where the key was \"found\"")
	source := flag.String("source", "content", "GitHub's kind of place: content, commit, pull_request_description, issue_comment, …")
	flag.Parse()
	if err := run(*key, *url, *source); err != nil {
		fmt.Fprintln(os.Stderr, "report-leak:", err)
		os.Exit(1)
	}
}

func run(key, url, source string) error {
	if key == "" {
		return fmt.Errorf("give the key: make report-leak KEY=flwl_test_…")
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "3000"
	}
	signer, err := localscan.LoadOrCreateKey(filepath.Join(".", localscan.KeyFile))
	if err != nil {
		return err
	}
	body, err := json.Marshal([]localscan.Match{{Token: key, Type: localscan.TokenType, URL: url, Source: source}})
	if err != nil {
		return err
	}
	endpoint := "http://127.0.0.1:" + port + "/v1/secret-scanning/github"
	req, err := localscan.Request(endpoint, signer, body)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("%w (is make run running? PORT picks its port)", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	fmt.Printf("POST %s → %d\n%s\n", endpoint, resp.StatusCode, answer)
	if resp.StatusCode == http.StatusUnauthorized {
		fmt.Fprintln(os.Stderr, "report-leak: the signature was refused: make run verifies reports against "+
			"the keys at SECRET_SCANNING_KEYS_URL when that is set, and otherwise against "+localscan.KeyFile+" (its own)")
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	var feedback []struct{ Label string }
	if json.Unmarshal(answer, &feedback) == nil && len(feedback) == 1 && feedback[0].Label == "true_positive" {
		fmt.Println("A key of this stack: revoked now (or flagged, where the organisation's on_exposure is notify). " +
			"Try it: curl -s http://127.0.0.1:" + port + "/v1/whoami -H \"Authorization: Bearer $KEY\"")
	} else {
		fmt.Println("Not a key of this stack (false_positive): nothing changed.")
	}
	return nil
}
