package session

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

const (
	testIssuer   = "https://idp.example/"
	testAudience = "flowella-dashboard"
)

// fakeIdP serves a JWKS on loopback, as Cognito, Auth0 or Okta serve theirs,
// and lets a test rotate keys in and out and count fetches.
type fakeIdP struct {
	t       *testing.T
	url     string
	fetches atomic.Int64

	mu   sync.Mutex
	keys map[string]jwkset.JWKMarshal
	down bool
}

func newFakeIdP(t *testing.T) *fakeIdP {
	t.Helper()
	p := &fakeIdP{t: t, keys: map[string]jwkset.JWKMarshal{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.fetches.Add(1)
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.down {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		set := jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{}}
		for _, k := range p.keys {
			set.Keys = append(set.Keys, k)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

func (p *fakeIdP) publish(kid string, pub any, use jwkset.USE) {
	p.t.Helper()
	jwk, err := jwkset.NewJWKFromKey(pub, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: kid, USE: use}})
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys[kid] = jwk.Marshal()
}

func (p *fakeIdP) withdraw(kid string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.keys, kid)
}

func (p *fakeIdP) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
}

func jwksVerifier(t *testing.T, url string, timing jwksTiming) *Verifier {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel) // ends the background refresh
	v, err := NewVerifier(ctx, Config{JWKSURL: url, Issuer: testIssuer, Audience: testAudience, jwks: timing})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func idpClaims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{"sub": "u_1", "org_id": "org_a", "role": "owner", "iss": testIssuer, "aud": testAudience,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
}

func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ecKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// eventually retries f until it returns nil or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, within, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestJWKS(t *testing.T) {
	idp := newFakeIdP(t)
	rsa1, ec1, encKey, stranger := rsaKey(t), ecKey(t), rsaKey(t), rsaKey(t)
	idp.publish("rsa-1", &rsa1.PublicKey, jwkset.UseSig)
	idp.publish("ec-1", &ec1.PublicKey, "") // "use" is optional
	idp.publish("enc-1", &encKey.PublicKey, jwkset.UseEnc)
	v := jwksVerifier(t, idp.url, jwksTiming{})

	with := func(k string, val any) jwt.MapClaims {
		c := idpClaims()
		if val == nil {
			delete(c, k)
		} else {
			c[k] = val
		}
		return c
	}
	good := idpClaims()
	tests := []struct {
		name  string
		token string
		ok    bool
	}{
		{"RS256", sign(t, jwt.SigningMethodRS256, rsa1, good, "rsa-1"), true},
		{"ES256", sign(t, jwt.SigningMethodES256, ec1, good, "ec-1"), true},
		{"no kid: any published key", sign(t, jwt.SigningMethodES256, ec1, good, ""), true},
		{"RS256 by a stranger under a published kid", sign(t, jwt.SigningMethodRS256, stranger, good, "rsa-1"), false},
		{"RS256 under an EC key's kid", sign(t, jwt.SigningMethodRS256, rsa1, good, "ec-1"), false},
		{"key published for encryption", sign(t, jwt.SigningMethodRS256, encKey, good, "enc-1"), false},
		{"unknown kid", sign(t, jwt.SigningMethodRS256, rsa1, good, "nope"), false},
		{"HS256 with a kid as secret", sign(t, jwt.SigningMethodHS256, []byte("rsa-1"), good, "rsa-1"), false},
		{"RS384 not allowed", sign(t, jwt.SigningMethodRS384, rsa1, good, "rsa-1"), false},
		{"another tenant's issuer", sign(t, jwt.SigningMethodRS256, rsa1, with("iss", "https://idp.example/other-tenant/"), "rsa-1"), false},
		{"another application's audience", sign(t, jwt.SigningMethodRS256, rsa1, with("aud", "someone-else"), "rsa-1"), false},
		{"no audience", sign(t, jwt.SigningMethodRS256, rsa1, with("aud", nil), "rsa-1"), false},
		{"no issuer", sign(t, jwt.SigningMethodRS256, rsa1, with("iss", nil), "rsa-1"), false},
		{"iat beyond the leeway ahead", sign(t, jwt.SigningMethodES256, ec1, with("iat", time.Now().Add(5*time.Minute).Unix()), "ec-1"), false},
		{"crit", signHeader(t, jwt.SigningMethodRS256, rsa1, good, map[string]any{"kid": "rsa-1", "crit": []string{"b64"}, "b64": false}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := v.Verify(tt.token)
			if tt.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if tt.ok && (p != Principal{UserID: "u_1", OrgID: "org_a", Role: "owner"}) {
				t.Fatalf("principal %+v", p)
			}
		})
	}

	// A crit token is refused before any key lookup: even with an unknown
	// kid it costs the identity provider nothing.
	before := idp.fetches.Load()
	crit := signHeader(t, jwt.SigningMethodRS256, rsa1, good, map[string]any{"kid": "never-seen", "crit": []string{"x"}})
	if _, err := v.Verify(crit); err == nil {
		t.Fatal("crit accepted")
	}
	if n := idp.fetches.Load() - before; n != 0 {
		t.Fatalf("a crit token caused %d JWKS fetches", n)
	}
}

// A flood of tokens with made-up kids must not keep a key the identity
// provider has just rotated in from being fetched: the fetches such tokens
// trigger are spaced (here 100 ms) but each brings in the whole current set.
// The background refresh is out of play (an hour).
func TestUnknownKIDFloodCannotStarveRotation(t *testing.T) {
	idp := newFakeIdP(t)
	old, rotated, attacker := rsaKey(t), ecKey(t), ecKey(t)
	idp.publish("old", &old.PublicKey, jwkset.UseSig)
	const every = 100 * time.Millisecond
	start := time.Now()
	v := jwksVerifier(t, idp.url, jwksTiming{refreshEvery: time.Hour, unknownKIDEvery: every, fetchTimeout: 2 * time.Second})

	flood := make([]string, 500)
	for i := range flood {
		flood[i] = sign(t, jwt.SigningMethodES256, attacker, idpClaims(), fmt.Sprintf("made-up-%d", i))
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sent, accepted atomic.Int64
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				sent.Add(1)
				if _, err := v.Verify(flood[i%len(flood)]); err == nil {
					accepted.Add(1)
				}
			}
		}()
	}
	stopFlood := func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}
	t.Cleanup(stopFlood)

	// The flood is on and has been through several refresh intervals.
	eventually(t, 10*time.Second, "flood under way", func() error {
		if n := idp.fetches.Load(); n < 4 {
			return fmt.Errorf("%d fetches so far", n)
		}
		return nil
	})
	idp.publish("rotated", &rotated.PublicKey, jwkset.UseSig)
	tok := sign(t, jwt.SigningMethodES256, rotated, idpClaims(), "rotated")
	eventually(t, 10*time.Second, "token signed with the rotated key verifies during the flood", func() error {
		_, err := v.Verify(tok)
		return err
	})
	stopFlood()
	elapsed := time.Since(start)

	if n := accepted.Load(); n != 0 {
		t.Fatalf("%d flood tokens accepted", n)
	}
	// The limiter holds the provider's load: the first fetch, then at most
	// one per interval (plus its burst of one), however many tokens came.
	fetches := idp.fetches.Load()
	if limit := 2 + int64(elapsed/every); fetches > limit {
		t.Fatalf("%d JWKS fetches in %s for %d flood tokens; the limiter allows at most %d", fetches, elapsed, sent.Load(), limit)
	}
	t.Logf("%d flood tokens, %d JWKS fetches, rotated key verified after %s", sent.Load(), fetches, elapsed)
}

// With the unknown-kid budget spent, the background refresh still brings
// in a rotated key, and drops a withdrawn one.
func TestBackgroundRefreshFollowsRotation(t *testing.T) {
	idp := newFakeIdP(t)
	old, rotated := rsaKey(t), ecKey(t)
	idp.publish("old", &old.PublicKey, jwkset.UseSig)
	v := jwksVerifier(t, idp.url, jwksTiming{refreshEvery: 50 * time.Millisecond, unknownKIDEvery: time.Hour})

	oldTok := sign(t, jwt.SigningMethodRS256, old, idpClaims(), "old")
	if _, err := v.Verify(oldTok); err != nil {
		t.Fatal(err)
	}
	// Spend the one unknown-kid fetch of the hour.
	if _, err := v.Verify(sign(t, jwt.SigningMethodRS256, old, idpClaims(), "made-up")); err == nil {
		t.Fatal("unknown kid accepted")
	}
	idp.publish("rotated", &rotated.PublicKey, jwkset.UseSig)
	idp.withdraw("old")
	tok := sign(t, jwt.SigningMethodES256, rotated, idpClaims(), "rotated")
	eventually(t, 10*time.Second, "rotated key verifies", func() error {
		_, err := v.Verify(tok)
		return err
	})
	eventually(t, 10*time.Second, "withdrawn key refused", func() error {
		if _, err := v.Verify(oldTok); err == nil {
			return fmt.Errorf("still accepted")
		}
		return nil
	})
}

// An identity provider that is down when the function starts does not stop
// it; tokens verify once the provider answers again.
func TestJWKSUnreachableAtStart(t *testing.T) {
	idp := newFakeIdP(t)
	key := ecKey(t)
	idp.publish("k1", &key.PublicKey, jwkset.UseSig)
	idp.setDown(true)
	v := jwksVerifier(t, idp.url, jwksTiming{refreshEvery: time.Hour, unknownKIDEvery: 20 * time.Millisecond})
	tok := sign(t, jwt.SigningMethodES256, key, idpClaims(), "k1")
	if _, err := v.Verify(tok); err == nil {
		t.Fatal("verified with no key set")
	}
	idp.setDown(false)
	eventually(t, 10*time.Second, "token verifies once the provider is back", func() error {
		_, err := v.Verify(tok)
		return err
	})
}
