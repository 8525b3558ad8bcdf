// Package apikey holds the Flowella API key format: generation, exact parsing,
// the CRC32 checksum, the SHA-256 hash that is stored, and the display prefix.
//
// A key reads flwl_<env>_<random><checksum>: 32 base62 characters from
// crypto/rand followed by 6 base62 characters of the CRC32 of <random>.
package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"math/big"
	"strings"
)

// Env is the environment a deployment issues and accepts keys for.
type Env string

const (
	EnvLive Env = "live"
	EnvTest Env = "test"
)

const (
	scheme         = "flwl_"
	randomLen      = 32
	checksumLen    = 6
	prefixLen      = len("flwl_live_")
	Length         = prefixLen + randomLen + checksumLen // 48
	DisplayLen     = 16
	base62Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// ErrMalformed is returned for anything that is not a well-formed key of the
// deployment's environment. Its message never contains the input.
var ErrMalformed = errors.New("malformed api key")

// ParseEnv validates an environment name from configuration.
func ParseEnv(s string) (Env, error) {
	switch Env(s) {
	case EnvLive, EnvTest:
		return Env(s), nil
	case "":
		return EnvLive, nil
	}
	return "", fmt.Errorf("key environment %q: want live or test", s)
}

// Key is a parsed, checksum-valid API key. Its String method returns the
// display prefix so that a Key accidentally passed to a logger leaks nothing.
type Key struct {
	secret string
}

// Secret returns the full key. Callers hand it to the user once and nowhere else.
func (k Key) Secret() string { return k.secret }

// Hash is the hex SHA-256 of the full key: the only form that is stored.
func (k Key) Hash() string { return Hash(k.secret) }

// Prefix is the display prefix shown in lists and logs.
func (k Key) Prefix() string { return k.secret[:DisplayLen] }

func (k Key) String() string { return k.Prefix() + "…" }

// GoString keeps %#v from printing the secret.
func (k Key) GoString() string { return "apikey.Key{" + k.Prefix() + "…}" }

// LogValue keeps slog from printing the secret.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.String()) }

// Hash returns the hex SHA-256 of s.
func Hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// LooksLikeKey reports whether a bearer token claims to be an API key, so
// callers can tell keys from session tokens by shape before parsing.
func LooksLikeKey(token string) bool { return strings.HasPrefix(token, scheme) }

// Generate makes a new key for env from crypto/rand.
func Generate(env Env) (Key, error) {
	if env != EnvLive && env != EnvTest {
		return Key{}, fmt.Errorf("generate key: unknown environment %q", env)
	}
	random := make([]byte, randomLen)
	max := big.NewInt(int64(len(base62Alphabet)))
	for i := range random {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			return Key{}, fmt.Errorf("generate key: %w", err)
		}
		random[i] = base62Alphabet[n.Int64()]
	}
	return Key{secret: scheme + string(env) + "_" + string(random) + checksum(random)}, nil
}

// Parse accepts exactly one well-formed key of environment env: the whole
// prefix, the exact length, the base62 alphabet and a matching checksum.
// It does no I/O.
func Parse(s string, env Env) (Key, error) {
	if len(s) != Length || !strings.HasPrefix(s, scheme+string(env)+"_") {
		return Key{}, ErrMalformed
	}
	body := s[prefixLen:]
	for i := 0; i < len(body); i++ {
		if strings.IndexByte(base62Alphabet, body[i]) < 0 {
			return Key{}, ErrMalformed
		}
	}
	random, sum := body[:randomLen], body[randomLen:]
	if checksum([]byte(random)) != sum {
		return Key{}, ErrMalformed
	}
	return Key{secret: s}, nil
}

// checksum is the CRC32 (IEEE) of random in base62, zero-padded to 6 characters.
// 62^6 > 2^32, so every CRC32 fits.
func checksum(random []byte) string {
	n := crc32.ChecksumIEEE(random)
	out := []byte(strings.Repeat("0", checksumLen))
	for i := checksumLen - 1; i >= 0 && n > 0; i-- {
		out[i] = base62Alphabet[n%62]
		n /= 62
	}
	return string(out)
}
