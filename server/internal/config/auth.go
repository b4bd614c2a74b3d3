package config

import (
	"fmt"
	"strings"
	"time"
)

// Client token defaults.
const (
	// EnvTokenSecret is the default variable holding the token signing
	// keys. It is reserved: not read as a PARLEY_ setting.
	EnvTokenSecret         = "PARLEY_TOKEN_SECRET"
	defaultTokenTTL        = 5 * time.Minute
	defaultTokenMaxTTL     = time.Hour
	minTokenSecretBytes    = 32
	maxTokenKeyIDBytes     = 64
	tokenKeySeparator      = ","
	tokenKeyIDSeparator    = ":"
	tokenKeysAllowedFormat = "kid:secret[,kid:secret…] with secrets of at least 32 bytes"
)

// Tokens configures short-lived client tokens (signed JWTs a backend
// mints for a browser).
type Tokens struct {
	// SecretEnv names the environment variable holding the signing keys as
	// "kid:secret[,kid:secret…]": the first key signs, all verify (rotate
	// by putting the new key first and dropping the old one once its tokens
	// expired). Unset or empty: tokens are off.
	SecretEnv string `koanf:"secret_env"`
	// DefaultTTL is a minted token's lifetime when the request names none.
	DefaultTTL time.Duration `koanf:"default_ttl"`
	// MaxTTL caps a token's lifetime and its session's max duration.
	MaxTTL time.Duration `koanf:"max_ttl"`
	// Keys are resolved from SecretEnv. Secret: never printed.
	Keys []TokenKey `koanf:"-"`
}

// TokenKey is one signing key.
type TokenKey struct {
	ID     string
	Secret []byte
}

// Enabled reports whether tokens can be minted and verified.
func (t Tokens) Enabled() bool { return len(t.Keys) > 0 }

func defaultTokens() Tokens {
	return Tokens{SecretEnv: EnvTokenSecret, DefaultTTL: defaultTokenTTL, MaxTTL: defaultTokenMaxTTL}
}

// parseTokenKeys reads "kid:secret[,kid:secret…]".
func parseTokenKeys(s string) ([]TokenKey, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var keys []TokenKey
	seen := map[string]bool{}
	for _, part := range strings.Split(s, tokenKeySeparator) {
		id, secret, ok := strings.Cut(strings.TrimSpace(part), tokenKeyIDSeparator)
		if !ok || id == "" || len(id) > maxTokenKeyIDBytes || len(secret) < minTokenSecretBytes || seen[id] {
			return nil, fmt.Errorf("want %s", tokenKeysAllowedFormat)
		}
		seen[id] = true
		keys = append(keys, TokenKey{ID: id, Secret: []byte(secret)})
	}
	return keys, nil
}

func (c *Config) validateAuth(v *validator) {
	for i, k := range c.Auth.AdminKeys {
		if strings.TrimSpace(k) == "" {
			v.fail(fmt.Sprintf("auth.admin_keys[%d]", i), "", "must not be empty")
		}
	}
	t := c.Auth.Tokens
	v.positive("auth.tokens.default_ttl", t.DefaultTTL)
	v.positive("auth.tokens.max_ttl", t.MaxTTL)
	if t.DefaultTTL > t.MaxTTL {
		v.fail("auth.tokens.default_ttl", t.DefaultTTL, "must not exceed auth.tokens.max_ttl (%s)", t.MaxTTL)
	}
	if c.tokenKeyErr != nil {
		v.fail("auth.tokens.secret_env", t.SecretEnv, "the variable's value must be %s", tokenKeysAllowedFormat)
	}
}
