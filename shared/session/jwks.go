package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// jwksTiming says when the identity provider's key set is fetched.
type jwksTiming struct {
	// refreshEvery is the background refresh: a key the provider removes
	// stops verifying within this time.
	refreshEvery time.Duration
	// unknownKIDEvery spaces the fetches that tokens with an unknown kid
	// trigger. Any such fetch brings in every current key, so a flood of
	// made-up kids delays a freshly rotated key by at most this much, while
	// the provider sees at most one fetch per interval from this process.
	unknownKIDEvery time.Duration
	// fetchTimeout bounds one fetch, including one made inside a request.
	fetchTimeout time.Duration
}

const (
	defaultJWKSRefresh       = 10 * time.Minute
	defaultUnknownKIDRefresh = 10 * time.Second
	defaultJWKSFetchTimeout  = 3 * time.Second
)

func (t jwksTiming) withDefaults() jwksTiming {
	if t.refreshEvery <= 0 {
		t.refreshEvery = defaultJWKSRefresh
	}
	if t.unknownKIDEvery <= 0 {
		t.unknownKIDEvery = defaultUnknownKIDRefresh
	}
	if t.fetchTimeout <= 0 {
		t.fetchTimeout = defaultJWKSFetchTimeout
	}
	return t
}

// newJWKSKeyfunc fetches the key set at u now and keeps it fresh until ctx
// ends. A failed first fetch is logged, not fatal: an identity provider
// outage at a cold start refuses tokens until a refresh succeeds, and the
// next token with an unknown kid (every kid, while the set is empty) retries.
//
// keyfunc's defaults are not used: there, a token with an unknown kid takes
// the one refresh allowed per five minutes and waits up to a minute for it,
// with that same minute also bounding the fetch, so under a flood of
// made-up kids the fetches that do happen start with no time left and fail.
func newJWKSKeyfunc(ctx context.Context, u string, t jwksTiming) (jwt.Keyfunc, error) {
	t = t.withDefaults()
	logFailure := func(ctx context.Context, err error) {
		slog.Default().ErrorContext(ctx, "session: JWKS fetch failed; tokens signed with keys not yet fetched are refused",
			"url", u, "error", err.Error())
	}
	remote, err := jwkset.NewStorageFromHTTP(u, jwkset.HTTPClientStorageOptions{
		Ctx:                       ctx,
		HTTPTimeout:               t.fetchTimeout,
		NoErrorReturnFirstHTTPReq: true,
		RefreshErrorHandler:       logFailure,
		RefreshInterval:           t.refreshEvery,
	})
	if err != nil {
		return nil, err
	}
	// refetching reads the same keys and fetches the set again on a miss,
	// at once (rate.Inf) and with a whole fetchTimeout: the gate below
	// decides whether a miss may fetch at all.
	refetching, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs:          map[string]jwkset.Storage{u: remote},
		RateLimitWaitMax:  t.fetchTimeout,
		RefreshUnknownKID: rate.NewLimiter(rate.Inf, 1),
	})
	if err != nil {
		return nil, err
	}
	gate := unknownKIDGate{
		Storage:    remote,
		refetching: refetching,
		allow:      rate.NewLimiter(rate.Every(t.unknownKIDEvery), 1),
	}
	kf, err := keyfunc.New(keyfunc.Options{
		Ctx:     ctx,
		Storage: gate,
		// A key published for encryption never verifies a signature.
		UseWhitelist: []jwkset.USE{jwkset.UseSig, ""},
	})
	if err != nil {
		return nil, err
	}
	return kf.Keyfunc, nil
}

// unknownKIDGate is the key set as last fetched; a kid it does not hold
// triggers a fetch only when the limiter has a token, and never waits for
// one: a refused miss fails at once, so a flood neither queues requests nor
// consumes the fetch time of the miss that does go through.
type unknownKIDGate struct {
	jwkset.Storage
	refetching jwkset.Storage
	allow      *rate.Limiter
}

func (g unknownKIDGate) KeyRead(ctx context.Context, kid string) (jwkset.JWK, error) {
	jwk, err := g.Storage.KeyRead(ctx, kid)
	if !errors.Is(err, jwkset.ErrKeyNotFound) || !g.allow.Allow() {
		return jwk, err
	}
	return g.refetching.KeyRead(ctx, kid)
}

// checkJWKSURL refuses a key set that travels in the clear: whoever can
// alter it can sign tokens. Plain http is allowed to loopback only, for a
// provider emulated on this machine.
func checkJWKSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("session config: SESSION_JWKS_URL %q is not an absolute URL", raw)
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	}
	return fmt.Errorf("session config: SESSION_JWKS_URL %q must use https (http only to a loopback address): whoever can alter the key set in transit can sign tokens", raw)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
