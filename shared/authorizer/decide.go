// Package authorizer decides, for every API request, whether its bearer
// credential — an API key or a session token — may call the route, and with
// what identity the backend sees it.
package authorizer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/flowella/apikeys/shared/apikey"
	"github.com/flowella/apikeys/shared/authz"
	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/principal"
	"github.com/flowella/apikeys/shared/session"
	"github.com/flowella/apikeys/shared/stamp"
)

// Outcome of a decision.
type Outcome int

// The zero Outcome is none of them: a Decision left unset (as one returned
// with an error is) allows nothing.
const (
	// Allow lets the request through with Context.
	Allow Outcome = iota + 1
	// Unauthenticated is API Gateway's 401: no, malformed, unknown, revoked or expired credential.
	Unauthenticated
	// Forbidden is API Gateway's 403: a valid credential that may not use this route.
	Forbidden
)

// ErrUnavailable means the decision could not be made (storage failed); the
// request is refused, never allowed.
var ErrUnavailable = errors.New("authorizer unavailable")

// Decision is what the authorizer concluded.
type Decision struct {
	Outcome     Outcome
	PrincipalID string
	Context     map[string]any // for the backend: principal.Encode of who is calling
	Code        ReasonCode     // stable, for logs and key activity
	Reason      string         // for people reading logs, never the token
	// Key is the presented API key as far as it was identified: the prefix
	// once the key parses, the id and organisation once it is found. A
	// refusal keeps it, so a leaked key's refused requests are found too.
	Key KeyIdentity
}

// KeyIdentity names an API key without its secret.
type KeyIdentity struct {
	ID, Prefix, OrgID string
}

// ReasonCode says why a request was allowed or refused, in a word that
// stays the same from release to release.
type ReasonCode string

const (
	ReasonAllowed           ReasonCode = "allowed"
	ReasonNoCredential      ReasonCode = "no_credential"
	ReasonUnknownCredential ReasonCode = "unrecognised_credential"
	ReasonMalformedKey      ReasonCode = "malformed_key"
	ReasonUnknownKey        ReasonCode = "unknown_key"
	ReasonRevoked           ReasonCode = "revoked"
	ReasonExpired           ReasonCode = "expired"
	ReasonRouteNotMapped    ReasonCode = "route_not_mapped"
	ReasonWrongCredential   ReasonCode = "wrong_credential_kind"
	ReasonScopeMissing      ReasonCode = "scope_missing"
	ReasonIPNotAllowed      ReasonCode = "ip_not_allowed"
	ReasonChannelNotAllowed ReasonCode = "channel_not_allowed"
	ReasonInvalidSession    ReasonCode = "invalid_session"
	ReasonRoleNotAllowed    ReasonCode = "role_not_allowed"
)

// Request is the part of any authorizer event a decision needs.
type Request struct {
	Token  string // the bearer credential, without "Bearer "
	Method string
	// Resource is the route API Gateway resolved (REST's resource, the path
	// of an HTTP API's routeKey), with PathParams its parameters. The
	// decision follows it, so stages and base path mappings play no part.
	Resource   string
	PathParams map[string]string
	// Path is the request path, matched against the route map only when
	// the event carries no resolved route (TOKEN authorizers, an HTTP API's
	// $default route).
	Path      string
	SourceIP  string // "" when the event does not carry it (TOKEN authorizers)
	UserAgent string // for the decision log only
}

// route finds the route-map entry of the request.
func (a *Authorizer) route(r Request) (authz.Route, map[string]string, bool) {
	if r.Resource != "" {
		return a.catalog.Resolve(r.Method, r.Resource, r.PathParams)
	}
	return a.catalog.Match(r.Method, r.Path)
}

// Keys is what the authorizer needs of the key store.
type Keys interface {
	LookupByHash(ctx context.Context, hash string) (keystore.Key, error)
	TouchLastUsed(ctx context.Context, hash string, now time.Time) (bool, error)
}

// Orgs is where organisation plans come from.
type Orgs interface {
	GetOrg(ctx context.Context, id string) (keystore.Org, error)
}

// Authorizer makes decisions. Build one per process.
type Authorizer struct {
	keys     Keys
	orgs     *orgCache
	catalog  *authz.Catalog
	sessions *session.Verifier
	env      apikey.Env
	log      *slog.Logger
	now      func() time.Time
	touchFor time.Duration
}

// Config holds an Authorizer's dependencies.
type Config struct {
	Keys     Keys
	Orgs     Orgs
	Catalog  *authz.Catalog
	Sessions *session.Verifier
	Env      apikey.Env
	Log      *slog.Logger
	Now      func() time.Time // time.Now when nil
	// TouchTimeout bounds the last-used write, which a request waits for
	// but never fails by: DefaultTouchTimeout when zero.
	TouchTimeout time.Duration
}

// DefaultTouchTimeout is how long a request waits at most for its key's
// last-used write.
const DefaultTouchTimeout = 500 * time.Millisecond

// New builds an Authorizer.
func New(c Config) *Authorizer {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.TouchTimeout <= 0 {
		c.TouchTimeout = DefaultTouchTimeout
	}
	return &Authorizer{keys: c.Keys, orgs: newOrgCache(c.Orgs, c.Now), catalog: c.Catalog,
		sessions: c.Sessions, env: c.Env, log: c.Log, now: c.Now, touchFor: c.TouchTimeout}
}

// BearerToken extracts the credential from an Authorization header value.
func BearerToken(header string) string {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// Decide authenticates the credential first (401), then authorizes the route
// (403). Routes missing from the route map are refused.
func (a *Authorizer) Decide(ctx context.Context, r Request) (Decision, error) {
	switch {
	case r.Token == "":
		return Decision{Outcome: Unauthenticated, Code: ReasonNoCredential, Reason: "no bearer token"}, nil
	case apikey.LooksLikeKey(r.Token):
		return a.decideKey(ctx, r)
	case session.LooksLikeJWT(r.Token):
		return a.decideSession(r), nil
	}
	return Decision{Outcome: Unauthenticated, Code: ReasonUnknownCredential, Reason: "token is neither an API key nor a session token"}, nil
}

func (a *Authorizer) decideKey(ctx context.Context, r Request) (Decision, error) {
	key, err := apikey.Parse(r.Token, a.env)
	if err != nil {
		// Typos, garbage and keys of the other environment end here, with no I/O.
		return Decision{Outcome: Unauthenticated, Code: ReasonMalformedKey, Reason: "malformed api key"}, nil
	}
	k, err := a.keys.LookupByHash(ctx, key.Hash())
	if errors.Is(err, keystore.ErrNotFound) {
		return Decision{Outcome: Unauthenticated, Code: ReasonUnknownKey, Reason: "unknown api key",
			Key: KeyIdentity{Prefix: key.Prefix()}}, nil
	}
	if err != nil {
		return Decision{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	now := a.now()
	who := KeyIdentity{ID: k.ID, Prefix: k.Prefix, OrgID: k.OrgID}
	if st := k.StatusAt(now); st != keystore.StatusActive {
		code := ReasonRevoked
		if st == keystore.StatusExpired {
			code = ReasonExpired
		}
		return Decision{Outcome: Unauthenticated, Code: code, Reason: "api key is " + string(st), Key: who}, nil
	}
	// Denials carry the key's identity too, so access logs show which key
	// was refused.
	identity := principal.Principal{Type: principal.APIKey, OrgID: k.OrgID, KeyID: k.ID, KeyPrefix: k.Prefix}
	forbidden := func(code ReasonCode, reason string) (Decision, error) {
		return Decision{Outcome: Forbidden, PrincipalID: k.ID, Context: principal.Encode(identity), Code: code, Reason: reason, Key: who}, nil
	}
	route, params, ok := a.route(r)
	if !ok {
		return forbidden(ReasonRouteNotMapped, "route not in the route map")
	}
	if route.Auth != authz.AuthAPIKey {
		return forbidden(ReasonWrongCredential, "api keys may not call "+route.Method+" "+route.Path)
	}
	org, err := a.orgs.get(ctx, k.OrgID)
	if err != nil && !errors.Is(err, keystore.ErrOrgNotFound) {
		return Decision{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	effective := a.catalog.Effective(k.Scopes, org.Plan)
	if route.Scope != "" && !slices.Contains(effective, route.Scope) {
		return forbidden(ReasonScopeMissing, "api key lacks scope "+route.Scope)
	}
	if !ipAllowed(k.AllowedIPs, r.SourceIP) {
		return forbidden(ReasonIPNotAllowed, "api key is not allowed from "+r.SourceIP)
	}
	if ch := params[authz.ChannelParam]; len(k.Channels) > 0 && ch != "" && !slices.Contains(k.Channels, ch) {
		return forbidden(ReasonChannelNotAllowed, "api key is not allowed on channel "+ch)
	}
	a.touch(ctx, k, now)
	identity.Scopes = effective
	// Backends enforce the limit where a channel is named outside the path.
	identity.Channels = k.Channels
	return Decision{Outcome: Allow, PrincipalID: k.ID, Code: ReasonAllowed, Reason: "api key", Context: principal.Encode(identity), Key: who}, nil
}

// touch records last use at most once a minute per key: it skips the write
// when the item it just read is fresh, and the conditional write settles
// races between concurrent requests. Its failure never fails the request.
func (a *Authorizer) touch(ctx context.Context, k keystore.Key, now time.Time) {
	if !k.LastUsedAt.IsZero() && k.LastUsedAt >= stamp.Of(now).Add(-keystore.LastUsedInterval) {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, a.touchFor)
	defer cancel()
	if _, err := a.keys.TouchLastUsed(ctx, k.Hash, now); err != nil {
		a.log.WarnContext(ctx, "last-used update failed", "key_id", k.ID, "error", err.Error())
	}
}

func (a *Authorizer) decideSession(r Request) Decision {
	p, err := a.sessions.Verify(r.Token)
	if err != nil {
		return Decision{Outcome: Unauthenticated, Code: ReasonInvalidSession, Reason: err.Error()}
	}
	route, _, ok := a.route(r)
	switch {
	case !ok:
		return Decision{Outcome: Forbidden, Code: ReasonRouteNotMapped, Reason: "route not in the route map"}
	case route.Auth != authz.AuthSession:
		return Decision{Outcome: Forbidden, Code: ReasonWrongCredential, Reason: "session tokens may not call " + route.Method + " " + route.Path}
	case !route.AllowsRole(p.Role):
		return Decision{Outcome: Forbidden, Code: ReasonRoleNotAllowed, Reason: "role " + p.Role + " may not call " + route.Method + " " + route.Path}
	}
	return Decision{
		Outcome:     Allow,
		PrincipalID: p.UserID,
		Code:        ReasonAllowed,
		Reason:      "session of " + p.UserID,
		Context:     principal.Encode(principal.Principal{Type: principal.Session, OrgID: p.OrgID, UserID: p.UserID, Role: p.Role}),
	}
}

// ipAllowed reports whether ip is inside one of the allowed prefixes. An
// empty list allows any address; an allow-list with no (or an unreadable)
// source address allows nothing.
func ipAllowed(allowed []string, ip string) bool {
	if len(allowed) == 0 {
		return true
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	for _, s := range allowed {
		if p, err := netip.ParsePrefix(s); err == nil && p.Contains(addr) {
			return true
		}
	}
	return false
}

// orgCache keeps organisation plans for at most OrgCacheTTL; key items are
// never cached.
type orgCache struct {
	src  Orgs
	now  func() time.Time
	mu   sync.Mutex
	orgs map[string]cachedOrg
}

// OrgCacheTTL bounds how stale a plan may be.
const OrgCacheTTL = 60 * time.Second

type cachedOrg struct {
	org     keystore.Org
	missing bool
	at      time.Time
}

func newOrgCache(src Orgs, now func() time.Time) *orgCache {
	return &orgCache{src: src, now: now, orgs: map[string]cachedOrg{}}
}

func (c *orgCache) get(ctx context.Context, id string) (keystore.Org, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.orgs[id]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < OrgCacheTTL {
		if e.missing {
			return keystore.Org{}, keystore.ErrOrgNotFound
		}
		return e.org, nil
	}
	org, err := c.src.GetOrg(ctx, id)
	missing := errors.Is(err, keystore.ErrOrgNotFound)
	if err != nil && !missing {
		return keystore.Org{}, err
	}
	c.mu.Lock()
	c.orgs[id] = cachedOrg{org: org, missing: missing, at: now}
	c.mu.Unlock()
	return org, err
}
