package secretscan

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// GitHubKeysURL is where GitHub publishes the keys that sign its secret
// scanning reports.
const GitHubKeysURL = "https://api.github.com/meta/public_keys/secret_scanning"

// The headers of a report that carry its signature.
const (
	KeyIdentifierHeader = "Github-Public-Key-Identifier"
	SignatureHeader     = "Github-Public-Key-Signature"
)

// Why a report's signature is refused.
var (
	ErrMissingSignature = errors.New("the report has no signature headers")
	ErrBadSignature     = errors.New("the report's signature does not verify")
	ErrUnknownKey       = errors.New("the report is signed with a key GitHub does not publish")
	// ErrKeysUnavailable: GitHub's keys could not be fetched and none are
	// cached, so no report can be verified now (a retry may succeed).
	ErrKeysUnavailable = errors.New("GitHub's public keys could not be fetched")
	// ErrKeyNotFetchedYet: the report is signed with a key not among those
	// held, and they could not be fetched again for it (one fetch a
	// minute, or the fetch failed): GitHub may have published the key
	// since, so the report is to be sent again later, not refused.
	ErrKeyNotFetchedYet = errors.New("the report is signed with a key not among those fetched; GitHub's keys are fetched again within a minute")
)

// How GitHub's keys are fetched and kept.
const (
	// RefreshInterval spaces fetches: a report signed with a key not yet
	// seen (GitHub rotated its keys) fetches them again, at most once per
	// interval, so made-up identifiers cannot turn every request into a
	// fetch from GitHub.
	RefreshInterval = time.Minute
	// MaxKeyAge is how long a fetched set is used before a report fetches
	// it again (keys GitHub withdrew stop verifying within this time; a
	// failed fetch keeps the set).
	MaxKeyAge = time.Hour
	// FetchTimeout bounds one fetch, which happens inside a request.
	FetchTimeout = 5 * time.Second
	// maxKeysDocument bounds the keys document read.
	maxKeysDocument = 1 << 20
)

// PublicKeys are GitHub's secret scanning keys, fetched from a URL and kept
// in memory. It is safe for concurrent use.
type PublicKeys struct {
	url    string
	client *http.Client
	log    *slog.Logger
	now    func() time.Time

	fetching sync.Mutex                  // held for a fetch, so that concurrent reports make one
	mu       sync.Mutex                  // guards what follows; never held across a fetch
	keys     map[string]*ecdsa.PublicKey // by key_identifier; nil until a fetch succeeds
	fetched  time.Time                   // last successful fetch
	tried    time.Time                   // last fetch, successful or not
}

// NewPublicKeys reads keys from rawURL (GitHubKeysURL when empty), which
// must be https, or plain http to a loopback address (a test or the local
// stack): whoever can alter the keys in transit can forge reports. Nothing
// is fetched until a report needs it.
func NewPublicKeys(rawURL string, log *slog.Logger) (*PublicKeys, error) {
	if rawURL == "" {
		rawURL = GitHubKeysURL
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("SECRET_SCANNING_KEYS_URL %q is not an absolute URL", rawURL)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && loopback(u.Hostname())) {
		return nil, fmt.Errorf("SECRET_SCANNING_KEYS_URL %q must use https (http only to a loopback address): whoever can alter the keys in transit can forge reports", rawURL)
	}
	if log == nil {
		log = slog.Default()
	}
	return &PublicKeys{url: rawURL, client: &http.Client{Timeout: FetchTimeout}, log: log, now: time.Now}, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Verify checks signature (base64 of an ASN.1 DER ECDSA P-256 signature)
// of the SHA-256 of body against GitHub's key keyID. Its errors are
// ErrMissingSignature, ErrBadSignature, ErrUnknownKey and ErrKeysUnavailable.
func (p *PublicKeys) Verify(ctx context.Context, keyID, signature string, body []byte) error {
	if keyID == "" || signature == "" {
		return ErrMissingSignature
	}
	sig, err := base64.StdEncoding.DecodeString(signature)
	if err != nil {
		return ErrBadSignature
	}
	key, err := p.key(ctx, keyID)
	if err != nil {
		return err
	}
	digest := sha256.Sum256(body)
	if !ecdsa.VerifyASN1(key, digest[:], sig) {
		return ErrBadSignature
	}
	return nil
}

// key returns GitHub's key keyID, fetching the keys first when none are
// held, when they are older than MaxKeyAge, or when keyID is not among
// them — at most once per RefreshInterval. Fetches are serialised, so
// concurrent reports with an unknown identifier make one fetch; a report
// signed with a key held and fresh never waits for one.
func (p *PublicKeys) key(ctx context.Context, keyID string) (*ecdsa.PublicKey, error) {
	if key, ok := p.fresh(keyID); ok {
		return key, nil
	}
	p.fetching.Lock()
	defer p.fetching.Unlock()
	if key, ok := p.fresh(keyID); ok { // fetched while this report waited
		return key, nil
	}
	p.mu.Lock()
	now := p.now()
	due := p.tried.IsZero() || now.Sub(p.tried) >= RefreshInterval
	if due {
		p.tried = now
	}
	p.mu.Unlock()
	fetched := false
	if due {
		keys, err := p.fetch(ctx)
		if err != nil {
			// Fail closed: keys held already still verify; nothing else does.
			p.log.ErrorContext(ctx, "secret scanning: fetching GitHub's public keys failed", "url", p.url, "error", err.Error())
		} else {
			p.mu.Lock()
			p.keys, p.fetched = keys, now
			p.mu.Unlock()
			fetched = true
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if key, ok := p.keys[keyID]; ok {
		return key, nil
	}
	switch {
	case p.keys == nil:
		return nil, ErrKeysUnavailable
	case !fetched:
		// Only a fetch made for this report says GitHub does not publish
		// the key: a key GitHub rotated in since must not be refused.
		return nil, ErrKeyNotFetchedYet
	}
	return nil, ErrUnknownKey
}

// fresh returns keyID's key when it is held and the set is younger than
// MaxKeyAge.
func (p *PublicKeys) fresh(keyID string) (*ecdsa.PublicKey, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	key, ok := p.keys[keyID]
	return key, ok && p.now().Sub(p.fetched) < MaxKeyAge
}

// keysDocument is GitHub's answer at the keys URL.
type keysDocument struct {
	PublicKeys []struct {
		KeyIdentifier string `json:"key_identifier"`
		Key           string `json:"key"`
		IsCurrent     bool   `json:"is_current"`
	} `json:"public_keys"`
}

func (p *PublicKeys) fetch(ctx context.Context) (map[string]*ecdsa.PublicKey, error) {
	ctx, cancel := context.WithTimeout(ctx, FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "flowella-secret-scanning")
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d", p.url, resp.StatusCode)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxKeysDocument+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", p.url, err)
	}
	if len(raw) > maxKeysDocument {
		return nil, fmt.Errorf("GET %s: the document is over %d bytes", p.url, maxKeysDocument)
	}
	return ParseKeys(raw)
}

// ParseKeys reads a keys document ({"public_keys":[{"key_identifier",
// "key" (PEM), "is_current"}]}): every ECDSA P-256 key by its identifier,
// current or not (GitHub may sign with a key it is rotating out). Entries
// that are not such keys are left out; a document with none is an error.
func ParseKeys(raw []byte) (map[string]*ecdsa.PublicKey, error) {
	var doc keysDocument
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("keys document: %w", err)
	}
	keys := map[string]*ecdsa.PublicKey{}
	for _, k := range doc.PublicKeys {
		block, _ := pem.Decode([]byte(k.Key))
		if k.KeyIdentifier == "" || block == nil {
			continue
		}
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			continue
		}
		if ec, ok := pub.(*ecdsa.PublicKey); ok && ec.Curve == elliptic.P256() {
			keys[k.KeyIdentifier] = ec
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("keys document: no ECDSA P-256 key")
	}
	return keys, nil
}
