package main

import (
	"net/http"
	"path/filepath"

	"github.com/flowella/apikeys/local/localscan"
)

// secretScanningKeysURL is where make run's secret scanning endpoint reads
// the keys that sign reports: SECRET_SCANNING_KEYS_URL when set (GitHub's,
// or another), otherwise this stack's own document (withScanningKeys) of
// the local test key that make report-leak signs with.
func secretScanningKeysURL(addr string, getenv func(string) string) string {
	if u := getenv("SECRET_SCANNING_KEYS_URL"); u != "" {
		return u
	}
	return "http://" + addr + localscan.KeysPath
}

// withScanningKeys serves the local test key's public keys document at
// localscan.KeysPath, in GitHub's shape, and everything else with next.
func withScanningKeys(root string, next http.Handler) http.Handler {
	keys := localscan.KeysHandler(filepath.Join(root, localscan.KeyFile))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == localscan.KeysPath && r.Method == http.MethodGet {
			keys.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}
