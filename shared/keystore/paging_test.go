package keystore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/flowella/apikeys/shared/keystore"
)

// The keys list, 260 keys (some expired, some of another organisation) read
// 7 at a time: each exactly once, newest first, for every status filter.
func TestListPagesReturnEveryKeyOnce(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := context.Background()
	var (
		mu      sync.Mutex
		keys    []keystore.Key
		wg      sync.WaitGroup
		created = make(chan struct{}, 8)
	)
	for i := range 260 {
		wg.Add(1)
		created <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-created }()
			org := "org_a"
			if i%10 == 9 {
				org = "org_b"
			}
			k, _ := newKey(t, s, org)
			mu.Lock()
			keys = append(keys, k)
			mu.Unlock()
		}()
	}
	wg.Wait()
	now := time.Now()
	tests := []struct {
		status keystore.Status
	}{{""}, {keystore.StatusActive}, {keystore.StatusRevoked}}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("status=%q", tt.status), func(t *testing.T) {
			want := map[string]bool{}
			for _, k := range keys {
				if k.OrgID == "org_a" && (tt.status == "" || tt.status == keystore.StatusActive) {
					want[k.ID] = true
				}
			}
			seen := map[string]bool{}
			last := ""
			opts := keystore.ListOptions{Status: tt.status, Limit: 7, Now: now}
			for pages := 0; ; pages++ {
				if pages > 100 {
					t.Fatal("paging does not end")
				}
				page, next, err := s.List(ctx, "org_a", opts)
				if err != nil {
					t.Fatalf("page %d: %v", pages+1, err)
				}
				if len(page) > 7 || (next != "" && len(page) != 7) {
					t.Fatalf("page %d: %d keys, next %q", pages+1, len(page), next)
				}
				for _, k := range page {
					if seen[k.ID] || !want[k.ID] || (last != "" && k.ID >= last) {
						t.Fatalf("key %s: seen %v, wanted %v, after %s", k.ID, seen[k.ID], want[k.ID], last)
					}
					seen[k.ID], last = true, k.ID
				}
				if next == "" {
					break
				}
				opts.Before = next
			}
			if len(seen) != len(want) {
				t.Fatalf("listed %d keys, want %d", len(seen), len(want))
			}
		})
	}
}
