package authorizer_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowella/apikeys/local/localsession"
	"github.com/flowella/apikeys/local/syncbuf"
	"github.com/flowella/apikeys/shared/apikey"
	"github.com/flowella/apikeys/shared/authorizer"
	"github.com/flowella/apikeys/shared/authz"
	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/session"
	"github.com/flowella/apikeys/shared/stamp"
)

// These tests are about decisions, so they run on in-memory fakes of the
// authorizer's two narrow interfaces (Keys, Orgs) and need no Java; how the
// store reads and writes is tested against DynamoDB Local in
// authorizer_test.go and in keystore.

// memKeys is Keys in memory. TouchLastUsed keeps the store's condition (no
// write while the stored time is within LastUsedInterval) so that a fresh
// touch shows on the next lookup.
type memKeys struct {
	mu        sync.Mutex
	byHash    map[string]keystore.Key
	lookups   int
	touches   int
	failRead  error
	failTouch error
	// hangTouch makes TouchLastUsed wait for its context to end (a write
	// that never answers), and keep why it ended in touchEnded.
	hangTouch  bool
	touchEnded error
}

func (m *memKeys) LookupByHash(_ context.Context, hash string) (keystore.Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lookups++
	if m.failRead != nil {
		return keystore.Key{}, m.failRead
	}
	k, ok := m.byHash[hash]
	if !ok {
		return keystore.Key{}, keystore.ErrNotFound
	}
	return k, nil
}

func (m *memKeys) TouchLastUsed(ctx context.Context, hash string, now time.Time) (bool, error) {
	m.mu.Lock()
	hang := m.hangTouch
	m.mu.Unlock()
	if hang {
		<-ctx.Done()
		m.mu.Lock()
		m.touches++
		m.touchEnded = ctx.Err()
		m.mu.Unlock()
		return false, ctx.Err()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.touches++
	if m.failTouch != nil {
		return false, m.failTouch
	}
	k, ok := m.byHash[hash]
	if !ok || (!k.LastUsedAt.IsZero() && k.LastUsedAt >= stamp.Of(now.Add(-keystore.LastUsedInterval))) {
		return false, nil
	}
	k.LastUsedAt = stamp.Of(now)
	m.byHash[hash] = k
	return true, nil
}

func (m *memKeys) counts() (lookups, touches int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lookups, m.touches
}

// memOrgs is Orgs in memory.
type memOrgs struct {
	mu    sync.Mutex
	orgs  map[string]keystore.Org
	reads int
	fail  error
}

func (m *memOrgs) GetOrg(_ context.Context, id string) (keystore.Org, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	if m.fail != nil {
		return keystore.Org{}, m.fail
	}
	o, ok := m.orgs[id]
	if !ok {
		return keystore.Org{}, fmt.Errorf("get org %s: %w", id, keystore.ErrOrgNotFound)
	}
	return o, nil
}

const decideSecret = "decide-test-secret-0123456789abcdef0123"

// decideFixture is an Authorizer on fakes, at a fixed instant the test moves.
type decideFixture struct {
	keys    *memKeys
	orgs    *memOrgs
	catalog *authz.Catalog
	auth    *authorizer.Authorizer
	logs    *syncbuf.Buffer // auth's JSON log lines
	now     time.Time
}

func newDecideFixture(t testing.TB) *decideFixture {
	t.Helper()
	return newDecideFixtureWith(t, authorizer.Config{})
}

// newDecideFixtureWith is newDecideFixture with the Config fields the
// fixture does not set (TouchTimeout) taken from c.
func newDecideFixtureWith(t testing.TB, c authorizer.Config) *decideFixture {
	t.Helper()
	catalog, err := authz.Load()
	if err != nil {
		t.Fatal(err)
	}
	sessions, err := session.NewVerifier(context.Background(), session.Config{HS256Secret: decideSecret})
	if err != nil {
		t.Fatal(err)
	}
	f := &decideFixture{
		keys: &memKeys{byHash: map[string]keystore.Key{}},
		orgs: &memOrgs{orgs: map[string]keystore.Org{
			"org_hobby": {ID: "org_hobby", Plan: "hobby"},
			"org_paid":  {ID: "org_paid", Plan: "paid", Features: []string{"audit_log"}},
		}},
		catalog: catalog,
		logs:    &syncbuf.Buffer{},
		now:     time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC),
	}
	c.Keys, c.Orgs, c.Catalog, c.Sessions, c.Env = f.keys, f.orgs, catalog, sessions, apikey.EnvLive
	c.Now, c.Log = func() time.Time { return f.now }, slog.New(slog.NewJSONHandler(f.logs, nil))
	f.auth = authorizer.New(c)
	return f
}

// add stores a live-environment key of org with scopes, shaped by edit.
func (f *decideFixture) add(t testing.TB, org string, scopes []string, edit func(*keystore.Key)) (apikey.Key, keystore.Key) {
	t.Helper()
	secret, err := apikey.Generate(apikey.EnvLive)
	if err != nil {
		t.Fatal(err)
	}
	k := keystore.Key{Hash: secret.Hash(), ID: keystore.NewID(), OrgID: org, Prefix: secret.Prefix(), Label: "t",
		Scopes: scopes, Status: keystore.StatusActive, CreatedAt: stamp.Of(f.now.Add(-24 * time.Hour)), Version: 1}
	if edit != nil {
		edit(&k)
	}
	f.keys.mu.Lock()
	f.keys.byHash[k.Hash] = k
	f.keys.mu.Unlock()
	return secret, k
}

func (f *decideFixture) session(t *testing.T, org, user, role string) string {
	t.Helper()
	tok, err := localsession.IssueHS256(decideSecret, session.Principal{UserID: user, OrgID: org, Role: role}, time.Hour, "", "")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// verdict is what a test asserts of a decision. verdictOf is the one place
// that reads authorizer.Decision, so a change of its shape (or of how the
// context is encoded) is adapted here alone.
type verdict struct {
	Outcome string            // "allow", "401" or "403"; "error" when Decide failed
	Code    string            // the reason code
	Context map[string]string // the backend's context, exactly; nil when none
	Key     authorizer.KeyIdentity
}

func verdictOf(d authorizer.Decision, err error) verdict {
	if err != nil {
		return verdict{Outcome: "error"}
	}
	v := verdict{Code: string(d.Code), Key: d.Key}
	switch d.Outcome {
	case authorizer.Allow:
		v.Outcome = "allow"
	case authorizer.Unauthenticated:
		v.Outcome = "401"
	case authorizer.Forbidden:
		v.Outcome = "403"
	default:
		v.Outcome = fmt.Sprintf("outcome %d", d.Outcome)
	}
	if len(d.Context) > 0 {
		v.Context = map[string]string{}
		for name, val := range d.Context {
			v.Context[name] = fmt.Sprint(val)
		}
	}
	return v
}

func (f *decideFixture) decide(t *testing.T, r authorizer.Request) verdict {
	t.Helper()
	return verdictOf(f.auth.Decide(context.Background(), r))
}

func checkVerdict(t *testing.T, got, want verdict) {
	t.Helper()
	if got.Outcome != want.Outcome || got.Code != want.Code || got.Key != want.Key || !maps.Equal(got.Context, want.Context) {
		t.Fatalf("decision\n got %+v\nwant %+v", got, want)
	}
}

// req is a request on a route API Gateway resolved (REST's resource, with
// its path parameters), from 203.0.113.7.
func req(token, method, resource string, params map[string]string) authorizer.Request {
	return authorizer.Request{Token: token, Method: method, Resource: resource, PathParams: params,
		Path: resource, SourceIP: "203.0.113.7"}
}

func keyContext(k keystore.Key, scopes, channels string) map[string]string {
	c := map[string]string{"principal_type": "api_key", "org_id": k.OrgID, "key_id": k.ID, "key_prefix": k.Prefix}
	if scopes != "-" && scopes != "" { // "-": refused, so none handed on; none: left out
		c["scopes"] = scopes
	}
	if channels != "" {
		c["channels"] = channels
	}
	return c
}

func identity(k keystore.Key) authorizer.KeyIdentity {
	return authorizer.KeyIdentity{ID: k.ID, Prefix: k.Prefix, OrgID: k.OrgID}
}

func TestDecideAPIKeys(t *testing.T) {
	f := newDecideFixture(t)
	paidPlan := strings.Join(f.catalog.Plans["paid"], " ")
	hobbyPlan := strings.Join(f.catalog.Plans["hobby"], " ")
	hour := time.Hour

	allSecret, all := f.add(t, "org_paid", []string{"*"}, nil)
	hobbySecret, hobby := f.add(t, "org_hobby", []string{"*"}, nil)
	outsideSecret, outside := f.add(t, "org_hobby", []string{"analytics:read", "contacts:read"}, nil)
	senderSecret, sender := f.add(t, "org_hobby", []string{"messages:send"}, nil)
	homelessSecret, homeless := f.add(t, "org_gone", []string{"*"}, nil)
	revokedSecret, revoked := f.add(t, "org_paid", []string{"*"}, func(k *keystore.Key) {
		k.Status, k.RevokedAt, k.RevokedBy = keystore.StatusRevoked, stamp.Of(f.now.Add(-hour)), "u_1"
	})
	expiredSecret, expired := f.add(t, "org_paid", []string{"*"}, func(k *keystore.Key) { k.ExpiresAt = stamp.Of(f.now.Add(-time.Second)) })
	atExpirySecret, atExpiry := f.add(t, "org_paid", []string{"*"}, func(k *keystore.Key) { k.ExpiresAt = stamp.Of(f.now) })
	laterSecret, later := f.add(t, "org_paid", []string{"*"}, func(k *keystore.Key) { k.ExpiresAt = stamp.Of(f.now.Add(time.Millisecond)) })
	// A roll keeps the old key working until its grace ends (an expiry),
	// or revokes it at once when there is none.
	graceSecret, grace := f.add(t, "org_paid", []string{"*"}, func(k *keystore.Key) {
		k.RolledTo, k.ExpiresAt = keystore.NewID(), stamp.Of(f.now.Add(hour))
	})
	pastGraceSecret, pastGrace := f.add(t, "org_paid", []string{"*"}, func(k *keystore.Key) {
		k.RolledTo, k.ExpiresAt = keystore.NewID(), stamp.Of(f.now.Add(-time.Minute))
	})
	rolledNowSecret, rolledNow := f.add(t, "org_paid", []string{"*"}, func(k *keystore.Key) {
		k.RolledTo, k.Status, k.RevokedAt = keystore.NewID(), keystore.StatusRevoked, stamp.Of(f.now.Add(-time.Minute))
	})
	ipsSecret, ips := f.add(t, "org_paid", []string{"*"}, func(k *keystore.Key) { k.AllowedIPs = []string{"203.0.113.0/24", "2001:db8::/32"} })
	chanSecret, chans := f.add(t, "org_paid", []string{"messages:send"}, func(k *keystore.Key) { k.Channels = []string{"ch_1", "ch_2"} })

	testEnv, _ := apikey.Generate(apikey.EnvTest)
	unknown, _ := apikey.Generate(apikey.EnvLive)
	s := allSecret.Secret()
	typo := s[:20] + string(s[21]) + string(s[20]) + s[22:]

	whoami := func(tok string) authorizer.Request { return req(tok, "GET", "/v1/whoami", nil) }
	from := func(r authorizer.Request, ip string) authorizer.Request { r.SourceIP = ip; return r }
	ch := func(id string) map[string]string { return map[string]string{"channel_id": id} }
	tests := []struct {
		name string
		req  authorizer.Request
		want verdict
	}{
		{"valid key", whoami(allSecret.Secret()),
			verdict{"allow", "allowed", keyContext(all, paidPlan, ""), identity(all)}},
		{"no token", whoami(""), verdict{"401", "no_credential", nil, authorizer.KeyIdentity{}}},
		{"neither key nor session", whoami("nonsense"), verdict{"401", "unrecognised_credential", nil, authorizer.KeyIdentity{}}},
		{"checksum fails", whoami(typo), verdict{"401", "malformed_key", nil, authorizer.KeyIdentity{}}},
		{"truncated", whoami(s[:len(s)-1]), verdict{"401", "malformed_key", nil, authorizer.KeyIdentity{}}},
		{"scheme alone", whoami("flwl_live_"), verdict{"401", "malformed_key", nil, authorizer.KeyIdentity{}}},
		{"wrong environment", whoami(testEnv.Secret()), verdict{"401", "malformed_key", nil, authorizer.KeyIdentity{}}},
		{"unknown key", whoami(unknown.Secret()), verdict{"401", "unknown_key", nil, authorizer.KeyIdentity{Prefix: unknown.Prefix()}}},
		{"revoked", whoami(revokedSecret.Secret()), verdict{"401", "revoked", nil, identity(revoked)}},
		{"expired", whoami(expiredSecret.Secret()), verdict{"401", "expired", nil, identity(expired)}},
		{"at its expiry", whoami(atExpirySecret.Secret()), verdict{"401", "expired", nil, identity(atExpiry)}},
		{"just before its expiry", whoami(laterSecret.Secret()),
			verdict{"allow", "allowed", keyContext(later, paidPlan, ""), identity(later)}},
		{"rolled, within its grace", whoami(graceSecret.Secret()),
			verdict{"allow", "allowed", keyContext(grace, paidPlan, ""), identity(grace)}},
		{"rolled, after its grace", whoami(pastGraceSecret.Secret()), verdict{"401", "expired", nil, identity(pastGrace)}},
		{"rolled without grace", whoami(rolledNowSecret.Secret()), verdict{"401", "revoked", nil, identity(rolledNow)}},
		{"revoked key on a route it lacks", req(revokedSecret.Secret(), "GET", "/v1/api-keys", nil),
			verdict{"401", "revoked", nil, identity(revoked)}},

		{"scope granted", req(senderSecret.Secret(), "POST", "/v1/messages", nil),
			verdict{"allow", "allowed", keyContext(sender, "messages:send", ""), identity(sender)}},
		{"scope missing", req(senderSecret.Secret(), "GET", "/v1/contacts", nil),
			verdict{"403", "scope_missing", keyContext(sender, "-", ""), identity(sender)}},
		{"whoami needs no scope", whoami(senderSecret.Secret()),
			verdict{"allow", "allowed", keyContext(sender, "messages:send", ""), identity(sender)}},
		{"route not in the route map", req(allSecret.Secret(), "GET", "/v1/nothing-here", nil),
			verdict{"403", "route_not_mapped", keyContext(all, "-", ""), identity(all)}},
		{"unmatched path, no resolved route", authorizer.Request{Token: allSecret.Secret(), Method: "GET", Path: "/v1/nothing-here", SourceIP: "203.0.113.7"},
			verdict{"403", "route_not_mapped", keyContext(all, "-", ""), identity(all)}},
		{"path matched when no route was resolved", authorizer.Request{Token: allSecret.Secret(), Method: "GET", Path: "/v1/contacts/c_1", SourceIP: "203.0.113.7"},
			verdict{"allow", "allowed", keyContext(all, paidPlan, ""), identity(all)}},
		{"api key on a session-only route", req(allSecret.Secret(), "GET", "/v1/api-keys", nil),
			verdict{"403", "wrong_credential_kind", keyContext(all, "-", ""), identity(all)}},
		{"api key creating keys", req(allSecret.Secret(), "POST", "/v1/api-keys", nil),
			verdict{"403", "wrong_credential_kind", keyContext(all, "-", ""), identity(all)}},

		// The organisation's plan caps every key: [*] is the plan, and a
		// scope the plan does not grant is not usable whatever the key says.
		{"paid plan grants analytics", req(allSecret.Secret(), "GET", "/v1/analytics/{report}", map[string]string{"report": "daily"}),
			verdict{"allow", "allowed", keyContext(all, paidPlan, ""), identity(all)}},
		{"hobby plan: [*] is the hobby plan", whoami(hobbySecret.Secret()),
			verdict{"allow", "allowed", keyContext(hobby, hobbyPlan, ""), identity(hobby)}},
		{"hobby plan withholds analytics from [*]", req(hobbySecret.Secret(), "GET", "/v1/analytics/{report}", map[string]string{"report": "daily"}),
			verdict{"403", "scope_missing", keyContext(hobby, "-", ""), identity(hobby)}},
		{"hobby plan withholds a scope the key names", req(outsideSecret.Secret(), "GET", "/v1/analytics/{report}", map[string]string{"report": "daily"}),
			verdict{"403", "scope_missing", keyContext(outside, "-", ""), identity(outside)}},
		{"only the scopes the plan grants are handed on", req(outsideSecret.Secret(), "GET", "/v1/contacts", nil),
			verdict{"allow", "allowed", keyContext(outside, "contacts:read", ""), identity(outside)}},
		{"organisation with no record: no scope", req(homelessSecret.Secret(), "GET", "/v1/contacts", nil),
			verdict{"403", "scope_missing", keyContext(homeless, "-", ""), identity(homeless)}},
		{"organisation with no record: whoami", whoami(homelessSecret.Secret()),
			verdict{"allow", "allowed", keyContext(homeless, "", ""), identity(homeless)}},

		{"IP inside the allow-list", whoami(ipsSecret.Secret()),
			verdict{"allow", "allowed", keyContext(ips, paidPlan, ""), identity(ips)}},
		{"IPv6 inside the allow-list", from(whoami(ipsSecret.Secret()), "2001:db8::7"),
			verdict{"allow", "allowed", keyContext(ips, paidPlan, ""), identity(ips)}},
		{"IPv4-mapped IPv6 inside the allow-list", from(whoami(ipsSecret.Secret()), "::ffff:203.0.113.9"),
			verdict{"allow", "allowed", keyContext(ips, paidPlan, ""), identity(ips)}},
		{"IP not allowed", from(whoami(ipsSecret.Secret()), "198.51.100.1"),
			verdict{"403", "ip_not_allowed", keyContext(ips, "-", ""), identity(ips)}},
		{"no source address with an allow-list", from(whoami(ipsSecret.Secret()), ""),
			verdict{"403", "ip_not_allowed", keyContext(ips, "-", ""), identity(ips)}},
		{"unreadable source address", from(whoami(ipsSecret.Secret()), "not-an-address"),
			verdict{"403", "ip_not_allowed", keyContext(ips, "-", ""), identity(ips)}},
		{"no allow-list: any address", from(whoami(allSecret.Secret()), ""),
			verdict{"allow", "allowed", keyContext(all, paidPlan, ""), identity(all)}},

		{"channel allowed", req(chanSecret.Secret(), "POST", "/v1/channels/{channel_id}/messages", ch("ch_2")),
			verdict{"allow", "allowed", keyContext(chans, "messages:send", "ch_1 ch_2"), identity(chans)}},
		{"channel not allowed", req(chanSecret.Secret(), "POST", "/v1/channels/{channel_id}/messages", ch("ch_9")),
			verdict{"403", "channel_not_allowed", keyContext(chans, "-", ""), identity(chans)}},
		{"channel not allowed, parameter named otherwise by the resource", req(chanSecret.Secret(), "POST", "/v1/channels/{id}/messages", map[string]string{"id": "ch_9"}),
			verdict{"403", "channel_not_allowed", keyContext(chans, "-", ""), identity(chans)}},
		{"no channel in the path: the backend gets the limit", req(chanSecret.Secret(), "POST", "/v1/messages", nil),
			verdict{"allow", "allowed", keyContext(chans, "messages:send", "ch_1 ch_2"), identity(chans)}},
		{"no channel limit: any channel", req(allSecret.Secret(), "POST", "/v1/channels/{channel_id}/messages", ch("ch_9")),
			verdict{"allow", "allowed", keyContext(all, paidPlan, ""), identity(all)}},
		{"channel limit checked after the scope", req(chanSecret.Secret(), "GET", "/v1/channels/{channel_id}/messages", ch("ch_1")),
			verdict{"403", "scope_missing", keyContext(chans, "-", ""), identity(chans)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkVerdict(t, f.decide(t, tt.req), tt.want)
		})
	}
}

// Every API-key route of the route map is allowed to a key holding its scope
// and refused to a key holding every other scope of the plan.
func TestDecideEveryAPIKeyRoute(t *testing.T) {
	f := newDecideFixture(t)
	paid := f.catalog.Plans["paid"]
	n := 0
	for _, r := range f.catalog.Routes {
		if r.Auth != authz.AuthAPIKey {
			continue
		}
		n++
		t.Run(r.Method+" "+r.Path, func(t *testing.T) {
			params := map[string]string{}
			for _, seg := range strings.Split(r.Path, "/") {
				if name, ok := strings.CutPrefix(seg, "{"); ok {
					params[strings.TrimSuffix(name, "}")] = "x_1"
				}
			}
			if r.Scope == "" {
				secret, k := f.add(t, "org_paid", []string{"channels:read"}, nil)
				checkVerdict(t, f.decide(t, req(secret.Secret(), r.Method, r.Path, params)),
					verdict{"allow", "allowed", keyContext(k, "channels:read", ""), identity(k)})
				return
			}
			holder, hk := f.add(t, "org_paid", []string{r.Scope}, nil)
			checkVerdict(t, f.decide(t, req(holder.Secret(), r.Method, r.Path, params)),
				verdict{"allow", "allowed", keyContext(hk, r.Scope, ""), identity(hk)})
			others := slices.DeleteFunc(slices.Clone(paid), func(s string) bool { return s == r.Scope })
			lacking, lk := f.add(t, "org_paid", others, nil)
			checkVerdict(t, f.decide(t, req(lacking.Secret(), r.Method, r.Path, params)),
				verdict{"403", "scope_missing", keyContext(lk, "-", ""), identity(lk)})
		})
	}
	if n < 10 {
		t.Fatalf("only %d API-key routes in the route map", n)
	}
}

func TestDecideSessions(t *testing.T) {
	f := newDecideFixture(t)
	sessionCtx := func(org, user, role string) map[string]string {
		return map[string]string{"principal_type": "session", "org_id": org, "user_id": user, "role": role}
	}
	n := 0
	for _, r := range f.catalog.Routes {
		if r.Auth != authz.AuthSession {
			continue
		}
		n++
		params := map[string]string{"id": "key_01KMZ0000000000000000000AB"}
		// Owners and admins manage keys; members and read-only users do not.
		for role, allowed := range map[string]bool{
			session.RoleOwner: true, session.RoleAdmin: true, session.RoleMember: false, session.RoleReadOnly: false,
		} {
			t.Run(r.Method+" "+r.Path+" as "+role, func(t *testing.T) {
				tok := f.session(t, "org_paid", "u_"+role, role)
				want := verdict{"403", "role_not_allowed", nil, authorizer.KeyIdentity{}}
				if allowed {
					want = verdict{"allow", "allowed", sessionCtx("org_paid", "u_"+role, role), authorizer.KeyIdentity{}}
				}
				checkVerdict(t, f.decide(t, req(tok, r.Method, r.Path, params)), want)
			})
		}
	}
	if n < 10 {
		t.Fatalf("only %d session routes in the route map", n)
	}

	admin := f.session(t, "org_paid", "u_1", session.RoleAdmin)
	forged, err := localsession.IssueHS256("another-secret-0123456789abcdef0123456", session.Principal{UserID: "u_1", OrgID: "org_paid", Role: "owner"}, time.Hour, "", "")
	if err != nil {
		t.Fatal(err)
	}
	stale, err := localsession.IssueHS256(decideSecret, session.Principal{UserID: "u_1", OrgID: "org_paid", Role: "owner"}, -time.Hour, "", "")
	if err != nil {
		t.Fatal(err)
	}
	unknownRole, err := localsession.IssueHS256(decideSecret, session.Principal{UserID: "u_1", OrgID: "org_paid", Role: "superuser"}, time.Hour, "", "")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		req  authorizer.Request
		want verdict
	}{
		{"session on an API-key route", req(admin, "GET", "/v1/contacts", nil), verdict{"403", "wrong_credential_kind", nil, authorizer.KeyIdentity{}}},
		{"session on whoami", req(admin, "GET", "/v1/whoami", nil), verdict{"403", "wrong_credential_kind", nil, authorizer.KeyIdentity{}}},
		{"session on an unmapped route", req(admin, "DELETE", "/v1/api-keys", nil), verdict{"403", "route_not_mapped", nil, authorizer.KeyIdentity{}}},
		{"signed with another secret", req(forged, "GET", "/v1/api-keys", nil), verdict{"401", "invalid_session", nil, authorizer.KeyIdentity{}}},
		{"expired session", req(stale, "GET", "/v1/api-keys", nil), verdict{"401", "invalid_session", nil, authorizer.KeyIdentity{}}},
		{"unknown role", req(unknownRole, "GET", "/v1/api-keys", nil), verdict{"401", "invalid_session", nil, authorizer.KeyIdentity{}}},
		{"no IP check for sessions", authorizer.Request{Token: admin, Method: "GET", Path: "/v1/api-keys"},
			verdict{"allow", "allowed", sessionCtx("org_paid", "u_1", "admin"), authorizer.KeyIdentity{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkVerdict(t, f.decide(t, tt.req), tt.want)
		})
	}
	if lookups, _ := f.keys.counts(); lookups != 0 {
		t.Fatalf("session decisions read %d keys", lookups)
	}
}

// Refusals decided from the token alone cost no store call.
func TestDecideMalformedCostsNoLookup(t *testing.T) {
	f := newDecideFixture(t)
	secret, _ := f.add(t, "org_paid", []string{"*"}, nil)
	s := secret.Secret()
	testEnv, _ := apikey.Generate(apikey.EnvTest)
	for _, tok := range []string{"", "nonsense", s[:len(s)-1], s + "x", testEnv.Secret(), "flwl_" + strings.Repeat("x", 100)} {
		if got := f.decide(t, req(tok, "GET", "/v1/whoami", nil)); got.Outcome != "401" {
			t.Fatalf("%q: %+v", tok, got)
		}
	}
	if lookups, _ := f.keys.counts(); lookups != 0 || f.orgs.reads != 0 {
		t.Fatalf("%d key lookups and %d org reads for refusals decided without them", lookups, f.orgs.reads)
	}
}

// A store that cannot answer is an error: the request is refused with a
// 500, and the client is not told its key is invalid, nor let through.
func TestDecideStoreFailureIsAnError(t *testing.T) {
	throttled := errors.New("ProvisionedThroughputExceededException: throttled")
	tests := []struct {
		name string
		fail func(f *decideFixture)
	}{
		{"key lookup fails", func(f *decideFixture) { f.keys.failRead = throttled }},
		{"organisation read fails", func(f *decideFixture) { f.orgs.fail = throttled }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newDecideFixture(t)
			secret, _ := f.add(t, "org_paid", []string{"*"}, nil)
			tt.fail(f)
			d, err := f.auth.Decide(context.Background(), req(secret.Secret(), "GET", "/v1/whoami", nil))
			if !errors.Is(err, authorizer.ErrUnavailable) || !errors.Is(err, throttled) {
				t.Fatalf("err = %v, want ErrUnavailable wrapping the store's error", err)
			}
			if got := verdictOf(d, err); got.Outcome != "error" {
				t.Fatalf("verdict %+v, want an error", got)
			}
			// What comes with the error allows nothing, even to a caller that
			// ignored the error: no outcome, no reason, no identity.
			if d.Outcome == authorizer.Allow {
				t.Fatalf("a failed decision's outcome is Allow")
			}
			if got := verdictOf(d, nil); got.Code == "allowed" || got.Context != nil {
				t.Fatalf("a failed decision carries %+v", got)
			}
		})
	}
}

// Last use is written at most once a minute per key, only for allowed
// requests, and a failed write never fails the request.
func TestDecideTouchesLastUsed(t *testing.T) {
	f := newDecideFixture(t)
	secret, _ := f.add(t, "org_hobby", []string{"messages:send"}, nil)
	tok := secret.Secret()
	allow := func() {
		t.Helper()
		if got := f.decide(t, req(tok, "GET", "/v1/whoami", nil)); got.Outcome != "allow" {
			t.Fatalf("%+v", got)
		}
	}
	for range 20 {
		allow()
		f.now = f.now.Add(2 * time.Second) // 40 s in all
	}
	if _, touches := f.keys.counts(); touches != 1 {
		t.Fatalf("%d last-used writes within a minute, want 1", touches)
	}
	f.now = f.now.Add(25 * time.Second)
	allow()
	if _, touches := f.keys.counts(); touches != 2 {
		t.Fatalf("%d last-used writes after a minute, want 2", touches)
	}
	// Refused requests are not use.
	f.now = f.now.Add(5 * time.Minute)
	if got := f.decide(t, req(tok, "GET", "/v1/contacts", nil)); got.Outcome != "403" {
		t.Fatalf("%+v", got)
	}
	if _, touches := f.keys.counts(); touches != 2 {
		t.Fatalf("a refused request wrote last use (%d writes)", touches)
	}
	f.keys.failTouch = errors.New("ThrottlingException")
	allow()
	if _, touches := f.keys.counts(); touches != 3 {
		t.Fatalf("%d last-used writes, want the failed third", touches)
	}
}

// Plans are cached for OrgCacheTTL; keys are read on every request.
func TestDecideCachesPlansNotKeys(t *testing.T) {
	f := newDecideFixture(t)
	secret, _ := f.add(t, "org_hobby", []string{"*"}, nil)
	for range 5 {
		if got := f.decide(t, req(secret.Secret(), "GET", "/v1/contacts", nil)); got.Outcome != "allow" {
			t.Fatalf("%+v", got)
		}
	}
	if lookups, _ := f.keys.counts(); lookups != 5 || f.orgs.reads != 1 {
		t.Fatalf("key lookups %d (want 5), org reads %d (want 1)", lookups, f.orgs.reads)
	}
	// An upgrade shows once the cached plan is older than the TTL.
	f.orgs.mu.Lock()
	f.orgs.orgs["org_hobby"] = keystore.Org{ID: "org_hobby", Plan: "paid"}
	f.orgs.mu.Unlock()
	analytics := req(secret.Secret(), "GET", "/v1/analytics/{report}", map[string]string{"report": "daily"})
	if got := f.decide(t, analytics); got.Outcome != "403" {
		t.Fatalf("within the TTL: %+v", got)
	}
	f.now = f.now.Add(authorizer.OrgCacheTTL)
	if got := f.decide(t, analytics); got.Outcome != "allow" {
		t.Fatalf("after the TTL: %+v", got)
	}
}

func TestBearerToken(t *testing.T) {
	tests := []struct{ header, want string }{
		{"Bearer abc", "abc"},
		{"bearer abc", "abc"},
		{"BEARER  abc ", "abc"},
		{"  Bearer abc", "abc"},
		{"Basic abc", ""},
		{"Bearerabc", ""},
		{"Bearer", ""},
		{"abc", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := authorizer.BearerToken(tt.header); got != tt.want {
			t.Errorf("BearerToken(%q) = %q, want %q", tt.header, got, tt.want)
		}
	}
}

// A last-used write that never answers holds the request only as long as
// TouchTimeout, and the request is still allowed.
func TestDecideGivesUpAHangingLastUsedWrite(t *testing.T) {
	f := newDecideFixtureWith(t, authorizer.Config{TouchTimeout: 20 * time.Millisecond})
	secret, _ := f.add(t, "org_hobby", []string{"messages:send"}, nil)
	f.keys.hangTouch = true
	done := make(chan verdict, 1)
	go func() {
		done <- verdictOf(f.auth.Decide(context.Background(), req(secret.Secret(), "GET", "/v1/whoami", nil)))
	}()
	var got verdict
	select {
	case got = <-done:
	case <-time.After(time.Minute): // a liveness guard, not a measurement
		t.Fatal("the decision waited for the hanging write")
	}
	if got.Outcome != "allow" {
		t.Fatalf("decision %+v, want allow", got)
	}
	f.keys.mu.Lock()
	ended := f.keys.touchEnded
	f.keys.mu.Unlock()
	if !errors.Is(ended, context.DeadlineExceeded) {
		t.Fatalf("the write ended with %v, want its deadline", ended)
	}
	if !strings.Contains(f.logs.String(), "last-used update failed") {
		t.Fatalf("no warning logged: %s", f.logs.String())
	}
}
