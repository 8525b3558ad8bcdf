// Package localscan stands in for GitHub's side of secret scanning on this
// machine: a test key pair that signs reports as GitHub signs them, and the
// public keys document that make run publishes for the endpoint to verify
// them. make run and make report-leak use it, and so do the tests; no Lambda
// imports it.
package localscan

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
)

// KeysPath is the document's path on make run's port.
const KeysPath = "/local/secret-scanning/public-keys"

// KeyFile is where the local key pair is kept, under the repository root.
var KeyFile = filepath.Join(".local", "secret-scanning-key.pem")

// NewKey makes a P-256 key pair, as GitHub's signing keys are.
func NewKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// LoadOrCreateKey reads the PEM private key at path, or makes one and
// writes it there (0600) when there is none.
func LoadOrCreateKey(path string) (*ecdsa.PrivateKey, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err := NewKey()
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		out := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
		// O_EXCL: of two processes creating it at once, one wins and the
		// other reads the winner's key.
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if errors.Is(err, fs.ErrExist) {
			return LoadOrCreateKey(path)
		}
		if err != nil {
			return nil, err
		}
		if _, err := f.Write(out); err != nil {
			f.Close()
			return nil, err
		}
		return key, f.Close()
	}
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, fmt.Errorf("%s holds no PEM block; delete it to make a new key", path)
	}
	key, err := x509.ParseECPrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return key, nil
}

// KeyID is the identifier a key is published under: the hex SHA-256 of its
// public key (DER), which is what GitHub's identifiers are.
func KeyID(pub *ecdsa.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// Document is the public keys document, in GitHub's shape, listing keys;
// the first is current.
func Document(keys ...*ecdsa.PublicKey) ([]byte, error) {
	type entry struct {
		KeyIdentifier string `json:"key_identifier"`
		Key           string `json:"key"`
		IsCurrent     bool   `json:"is_current"`
	}
	doc := struct {
		PublicKeys []entry `json:"public_keys"`
	}{PublicKeys: []entry{}}
	for i, k := range keys {
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			return nil, err
		}
		doc.PublicKeys = append(doc.PublicKeys, entry{KeyIdentifier: KeyID(k),
			Key: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), IsCurrent: i == 0})
	}
	return json.Marshal(doc)
}

// Sign signs body as GitHub signs a report: ECDSA over its SHA-256, ASN.1
// DER, base64 (the Github-Public-Key-Signature header).
func Sign(key *ecdsa.PrivateKey, body []byte) (string, error) {
	digest := sha256.Sum256(body)
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// Match is one entry of a report, as GitHub sends it.
type Match struct {
	Token  string `json:"token"`
	Type   string `json:"type"`
	URL    string `json:"url"`
	Source string `json:"source"`
}

// TokenType is the token type Flowella's keys are registered under.
const TokenType = "flowella_api_key"

// Request is a signed report ready to post to url: the body and the two
// headers GitHub sets.
func Request(url string, key *ecdsa.PrivateKey, body []byte) (*http.Request, error) {
	sig, err := Sign(key, body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "GitHub-Hookshot/local")
	req.Header.Set("Github-Public-Key-Identifier", KeyID(&key.PublicKey))
	req.Header.Set("Github-Public-Key-Signature", sig)
	return req, nil
}

// KeysHandler serves the public keys document of the key pair at path,
// read (or made) on each request, so that it always matches the key that
// make report-leak signs with.
func KeysHandler(path string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, err := LoadOrCreateKey(path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		doc, err := Document(&key.PublicKey)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	})
}
