package secretscan_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/flowella/apikeys/local/localscan"
	"github.com/flowella/apikeys/local/syncbuf"
	"github.com/flowella/apikeys/shared/secretscan"
	"log/slog"
)

// github serves a keys document on loopback, as api.github.com does, and
// counts its fetches. Its keys can change (a rotation) and it can fail.
type github struct {
	srv     *httptest.Server
	mu      sync.Mutex
	keys    []*ecdsa.PublicKey
	fetches atomic.Int64
	down    atomic.Bool
	delay   time.Duration
	// gate, when set, holds each fetch until it is closed; started hears of
	// each fetch that waits there.
	gate, started chan struct{}
}

func newGitHub(t *testing.T, keys ...*ecdsa.PublicKey) *github {
	t.Helper()
	g := &github{keys: keys}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.fetches.Add(1)
		time.Sleep(g.delay)
		g.mu.Lock()
		gate, started := g.gate, g.started
		g.mu.Unlock()
		if gate != nil {
			started <- struct{}{}
			<-gate
		}
		if g.down.Load() {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		g.mu.Lock()
		doc, err := localscan.Document(g.keys...)
		g.mu.Unlock()
		if err != nil {
			t.Error(err)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	}))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *github) publish(keys ...*ecdsa.PublicKey) {
	g.mu.Lock()
	g.keys = keys
	g.mu.Unlock()
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := localscan.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sign(t *testing.T, k *ecdsa.PrivateKey, body []byte) string {
	t.Helper()
	sig, err := localscan.Sign(k, body)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// clock is a settable time.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func newPublicKeys(t *testing.T, url string, c *clock) *secretscan.PublicKeys {
	t.Helper()
	p, err := secretscan.NewPublicKeys(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p.WithClock(c.Now).WithClient(&http.Client{Timeout: 200 * time.Millisecond})
}

func TestSignatureVerification(t *testing.T) {
	current, other := newKey(t), newKey(t)
	gh := newGitHub(t, &current.PublicKey)
	p := newPublicKeys(t, gh.srv.URL, &clock{now: time.Now()})
	body := []byte(`[{"token":"flwl_live_x","type":"flowella_api_key","url":"https://github.com/o/r/blob/main/.env","source":"content"}]`)
	good := sign(t, current, body)
	raw, _ := base64.StdEncoding.DecodeString(good)
	garbled := append([]byte{}, raw...)
	garbled[len(garbled)-3] ^= 0x40
	id := localscan.KeyID(&current.PublicKey)

	for _, tc := range []struct {
		name      string
		keyID     string
		signature string
		body      []byte
		want      error
	}{
		{"signed by the published key", id, good, body, nil},
		{"garbled signature", id, base64.StdEncoding.EncodeToString(garbled), body, secretscan.ErrBadSignature},
		{"signature not base64", id, "not base64!", body, secretscan.ErrBadSignature},
		{"the same signature over a changed body", id, good, []byte(strings.Replace(string(body), ".env", ".envrc", 1)), secretscan.ErrBadSignature},
		{"signed by a key GitHub does not publish, under the published id", id, sign(t, other, body), body, secretscan.ErrBadSignature},
		// The keys were fetched for the first report, within the minute:
		// not refused, to be sent again (TestUnknownIdentifier… shows the
		// refusal after a fetch).
		{"an identifier not among the keys fetched", localscan.KeyID(&other.PublicKey), sign(t, other, body), body, secretscan.ErrKeyNotFetchedYet},
		{"no identifier", "", good, body, secretscan.ErrMissingSignature},
		{"no signature", id, "", body, secretscan.ErrMissingSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := p.Verify(context.Background(), tc.keyID, tc.signature, tc.body); !errors.Is(err, tc.want) {
				t.Fatalf("Verify: %v, want %v", err, tc.want)
			}
		})
	}
	// One fetch at the first report; the unknown identifier found the
	// refresh spent (within the minute) and fetched nothing more.
	if n := gh.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
}

// GitHub rotates its keys: a report signed with the new key fetches them
// again, at most once a minute however many unknown identifiers arrive.
func TestUnknownIdentifierRefreshesAtMostOnceAMinute(t *testing.T) {
	old, next := newKey(t), newKey(t)
	gh := newGitHub(t, &old.PublicKey)
	c := &clock{now: time.Now()}
	p := newPublicKeys(t, gh.srv.URL, c)
	body := []byte(`[]`)
	ctx := context.Background()
	if err := p.Verify(ctx, localscan.KeyID(&old.PublicKey), sign(t, old, body), body); err != nil {
		t.Fatal(err)
	}
	gh.publish(&next.PublicKey, &old.PublicKey)
	// Within the minute of the first fetch: a flood of made-up identifiers,
	// and the new key too, fetch nothing, and are to be sent again later
	// (GitHub may have published the key since), not refused.
	c.Advance(30 * time.Second)
	for i := range 100 {
		made := newKey(t)
		if err := p.Verify(ctx, localscan.KeyID(&made.PublicKey)+string(rune('a'+i%26)), sign(t, made, body), body); !errors.Is(err, secretscan.ErrKeyNotFetchedYet) {
			t.Fatalf("made-up identifier: %v", err)
		}
	}
	if err := p.Verify(ctx, localscan.KeyID(&next.PublicKey), sign(t, next, body), body); !errors.Is(err, secretscan.ErrKeyNotFetchedYet) {
		t.Fatalf("new key within the minute: %v", err)
	}
	if n := gh.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches within the first minute, want 1", n)
	}
	// A minute after the last fetch the new key fetches the set: verified.
	c.Advance(31 * time.Second)
	if err := p.Verify(ctx, localscan.KeyID(&next.PublicKey), sign(t, next, body), body); err != nil {
		t.Fatalf("new key after the minute: %v", err)
	}
	if err := p.Verify(ctx, localscan.KeyID(&old.PublicKey), sign(t, old, body), body); err != nil {
		t.Fatalf("old key still published: %v", err)
	}
	if n := gh.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
	// A key GitHub withdraws stops verifying once the set is an hour old.
	gh.publish(&next.PublicKey)
	c.Advance(secretscan.MaxKeyAge)
	if err := p.Verify(ctx, localscan.KeyID(&old.PublicKey), sign(t, old, body), body); !errors.Is(err, secretscan.ErrUnknownKey) {
		t.Fatalf("withdrawn key: %v", err)
	}
}

// Fail closed: when GitHub's keys cannot be fetched (down, or slower than
// the timeout), nothing verifies; keys fetched before still do.
func TestKeysFetchFailsClosed(t *testing.T) {
	k := newKey(t)
	body := []byte(`[]`)
	ctx := context.Background()
	t.Run("down at the first report", func(t *testing.T) {
		gh := newGitHub(t, &k.PublicKey)
		gh.down.Store(true)
		c := &clock{now: time.Now()}
		p := newPublicKeys(t, gh.srv.URL, c)
		if err := p.Verify(ctx, localscan.KeyID(&k.PublicKey), sign(t, k, body), body); !errors.Is(err, secretscan.ErrKeysUnavailable) {
			t.Fatalf("Verify: %v", err)
		}
		// Back up: the next fetch is allowed a minute later.
		gh.down.Store(false)
		c.Advance(time.Minute)
		if err := p.Verify(ctx, localscan.KeyID(&k.PublicKey), sign(t, k, body), body); err != nil {
			t.Fatalf("after recovery: %v", err)
		}
	})
	t.Run("slower than the timeout", func(t *testing.T) {
		gh := newGitHub(t, &k.PublicKey)
		gh.delay = time.Second
		p := newPublicKeys(t, gh.srv.URL, &clock{now: time.Now()})
		start := time.Now()
		if err := p.Verify(ctx, localscan.KeyID(&k.PublicKey), sign(t, k, body), body); !errors.Is(err, secretscan.ErrKeysUnavailable) {
			t.Fatalf("Verify: %v", err)
		}
		if took := time.Since(start); took > 900*time.Millisecond {
			t.Fatalf("the fetch took %v: not bounded by the client's timeout", took)
		}
	})
	t.Run("down at a refresh", func(t *testing.T) {
		gh := newGitHub(t, &k.PublicKey)
		c := &clock{now: time.Now()}
		p := newPublicKeys(t, gh.srv.URL, c)
		if err := p.Verify(ctx, localscan.KeyID(&k.PublicKey), sign(t, k, body), body); err != nil {
			t.Fatal(err)
		}
		gh.down.Store(true)
		c.Advance(2 * secretscan.MaxKeyAge)
		if err := p.Verify(ctx, localscan.KeyID(&k.PublicKey), sign(t, k, body), body); err != nil {
			t.Fatalf("a key fetched before, with GitHub down: %v", err)
		}
		// A key not held, with GitHub down: cannot be told, so not refused.
		other := newKey(t)
		if err := p.Verify(ctx, localscan.KeyID(&other.PublicKey), sign(t, other, body), body); !errors.Is(err, secretscan.ErrKeyNotFetchedYet) {
			t.Fatalf("an unknown key, with GitHub down: %v", err)
		}
	})
}

func TestKeysURL(t *testing.T) {
	for url, ok := range map[string]bool{
		"":                           true, // GitHub's
		secretscan.GitHubKeysURL:     true,
		"http://127.0.0.1:3000/keys": true,
		"http://localhost:3000/keys": true,
		"http://[::1]:3000/keys":     true,
		"http://example.com/keys":    false, // in the clear over a network
		"ftp://example.com/keys":     false,
		"/keys":                      false,
	} {
		if _, err := secretscan.NewPublicKeys(url, nil); (err == nil) != ok {
			t.Errorf("%q: %v", url, err)
		}
	}
}

func TestParseKeysKeepsP256KeysOnly(t *testing.T) {
	p256 := newKey(t)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := localscan.Document(&p384.PublicKey, &p256.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := secretscan.ParseKeys(doc)
	if err != nil || len(keys) != 1 || keys[localscan.KeyID(&p256.PublicKey)] == nil {
		t.Fatalf("keys %v, %v", keys, err)
	}
	for _, bad := range []string{`{}`, `{"public_keys":[]}`, `{"public_keys":[{"key_identifier":"x","key":"nope"}]}`, `[`} {
		if _, err := secretscan.ParseKeys([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// The sample report (events/secret-scanning-github.json, for sam local
// invoke and the emulator test) is signed with the key that
// events/secret-scanning-public-keys.json publishes.
func TestSampleReportIsSigned(t *testing.T) {
	doc, err := os.ReadFile("../../events/secret-scanning-public-keys.json")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(doc) }))
	defer srv.Close()
	raw, err := os.ReadFile("../../events/secret-scanning-github.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayProxyRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	p := newPublicKeys(t, srv.URL, &clock{now: time.Now()})
	if err := p.Verify(context.Background(), ev.Headers[secretscan.KeyIdentifierHeader], ev.Headers[secretscan.SignatureHeader], []byte(ev.Body)); err != nil {
		t.Fatalf("the sample's signature: %v", err)
	}
	if _, err := secretscan.ParseReport([]byte(ev.Body)); err != nil {
		t.Fatal(err)
	}
}

// A report signed with a key held never waits for a fetch another report
// started (an unknown identifier, GitHub slow to answer). Here the other
// report's fetch is held until the known key's report is answered: had that
// report waited, the fetch would have run into FetchTimeout first and
// logged its failure.
func TestAKnownKeyDoesNotWaitForAFetch(t *testing.T) {
	k := newKey(t)
	gh := newGitHub(t, &k.PublicKey)
	c := &clock{now: time.Now()}
	var logs syncbuf.Buffer
	p, err := secretscan.NewPublicKeys(gh.srv.URL, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	p = p.WithClock(c.Now).WithClient(&http.Client{Timeout: time.Minute})
	body := []byte(`[]`)
	ctx := context.Background()
	if err := p.Verify(ctx, localscan.KeyID(&k.PublicKey), sign(t, k, body), body); err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{})
	gh.mu.Lock()
	gh.gate, gh.started = gate, make(chan struct{}, 1)
	gh.mu.Unlock()
	c.Advance(secretscan.RefreshInterval)
	unknown := make(chan error, 1)
	go func() {
		made := newKey(t)
		unknown <- p.Verify(ctx, localscan.KeyID(&made.PublicKey), sign(t, made, body), body)
	}()
	<-gh.started // the unknown identifier's fetch is under way, and held
	if err := p.Verify(ctx, localscan.KeyID(&k.PublicKey), sign(t, k, body), body); err != nil {
		t.Errorf("known key: %v", err)
	}
	close(gate)
	if err := <-unknown; !errors.Is(err, secretscan.ErrUnknownKey) {
		t.Errorf("unknown identifier: %v", err)
	}
	if strings.Contains(logs.String(), "fetching GitHub's public keys failed") {
		t.Errorf("the known key's report waited for the other's fetch, which timed out: %s", logs.String())
	}
	if n := gh.fetches.Load(); n != 2 {
		t.Errorf("%d fetches, want 2", n)
	}
}
