package main

import (
	"strings"
	"testing"
	"time"
)

// Issue 13, defect 4: the banner's sample key follows KEY_ENVIRONMENT.
func TestBannerKeyPrefixFollowsTheEnvironment(t *testing.T) {
	for _, env := range []string{"test", "live"} {
		t.Run(env, func(t *testing.T) {
			var b strings.Builder
			banner(&b, "127.0.0.1:3000", "http://127.0.0.1:8000", ".local/data", env, time.Second)
			other := map[string]string{"test": "live", "live": "test"}[env]
			if !strings.Contains(b.String(), "Bearer flwl_"+env+"_…") || strings.Contains(b.String(), "flwl_"+other+"_") {
				t.Fatalf("banner in %s mode:\n%s", env, b.String())
			}
		})
	}
}
