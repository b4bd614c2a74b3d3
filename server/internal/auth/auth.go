// Package auth mints and verifies Parley's short-lived client tokens:
// HS256 JWTs a backend asks for (POST /v1/tokens, with an API or admin
// key) and hands to a browser, so that no page holds a long-lived secret.
// A token carries its expiry, its key id (rotation), and what the issuer
// allows the session: a session id it is bound to, a maximum session
// duration, a system prompt and a voice.
package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parleyhq/parley/server/internal/clock"
	"github.com/parleyhq/parley/server/internal/config"
)

// Errors of Verify, for the HTTP edge to answer 401 with a code.
var (
	// ErrTokenMalformed: not a JWT at all.
	ErrTokenMalformed = errors.New("auth: malformed token")
	// ErrTokenExpired: past its expiry (also a replay after expiry).
	ErrTokenExpired = errors.New("auth: token expired")
	// ErrTokenInvalid: wrong signature, unknown key id, wrong algorithm or
	// claims that do not check out.
	ErrTokenInvalid = errors.New("auth: invalid token")
	// ErrTokensOff: no signing keys are configured.
	ErrTokensOff = errors.New("auth: client tokens are not configured")
	// ErrBadRequest: a mint request asks for something not allowed.
	ErrBadRequest = errors.New("auth: bad token request")
)

// issuer is the iss claim of Parley's tokens.
const issuer = "parley"

// sessionIDBytes matches the session package's ids (sess_ + 24 hex).
const sessionIDBytes = 12

// Claims are a client token's claims.
type Claims struct {
	jwt.RegisteredClaims
	// SessionID binds the token to one session id ("" = any new session).
	SessionID string `json:"sid,omitempty"`
	// MaxSessionSeconds ends the session that long after it starts (0 = no limit).
	MaxSessionSeconds int64 `json:"max_session_seconds,omitempty"`
	// SystemPrompt and Voice are set for the session by the issuer; the
	// client cannot change a system prompt set this way.
	SystemPrompt string `json:"system_prompt,omitempty"`
	Voice        string `json:"voice,omitempty"`
	// Tools, when set, are the only server tools the session may use.
	Tools []string `json:"tools,omitempty"`
	// Record, when set, decides whether the session is recorded (on a
	// server with recording.enabled); the client cannot change it.
	Record *bool `json:"rec,omitempty"`
}

// MaxSession is the session's maximum duration (0 = none).
func (c *Claims) MaxSession() time.Duration {
	return time.Duration(c.MaxSessionSeconds) * time.Second
}

// Request is what a backend asks a token for.
type Request struct {
	// TTL is the token's lifetime (0 = auth.tokens.default_ttl).
	TTL time.Duration
	// BindSession binds the token to a new session id, returned by Mint.
	BindSession bool
	// MaxSession bounds the session's duration (0 = none).
	MaxSession   time.Duration
	SystemPrompt string
	Voice        string
	// Tools, when not nil, narrows the session's server tools.
	Tools []string
	// Record, when not nil, decides whether the session is recorded.
	Record *bool
}

// Token is a minted token.
type Token struct {
	Token     string
	ExpiresAt time.Time
	// SessionID is set when the request bound the token to a session.
	SessionID string
}

// Tokens mints and verifies client tokens.
type Tokens struct {
	cfg   config.Tokens
	clock clock.Clock
}

// New returns the token service of cfg (cfg.Keys may be empty: then Mint
// and Verify return ErrTokensOff).
func New(cfg config.Tokens, clk clock.Clock) *Tokens { return &Tokens{cfg: cfg, clock: clk} }

// Enabled reports whether keys are configured.
func (t *Tokens) Enabled() bool { return t.cfg.Enabled() }

// Mint signs a token for r with the first key.
func (t *Tokens) Mint(r Request) (Token, error) {
	if !t.Enabled() {
		return Token{}, ErrTokensOff
	}
	ttl := r.TTL
	if ttl == 0 {
		ttl = t.cfg.DefaultTTL
	}
	if ttl < 0 || ttl > t.cfg.MaxTTL {
		return Token{}, fmt.Errorf("%w: ttl must be within 0..%s", ErrBadRequest, t.cfg.MaxTTL)
	}
	if r.MaxSession < 0 || r.MaxSession > t.cfg.MaxTTL {
		return Token{}, fmt.Errorf("%w: max session must be within 0..%s", ErrBadRequest, t.cfg.MaxTTL)
	}
	now := t.clock.Now()
	jti, err := randomHex(sessionIDBytes)
	if err != nil {
		return Token{}, err
	}
	c := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: issuer, ID: jti, IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		MaxSessionSeconds: int64(r.MaxSession / time.Second), SystemPrompt: r.SystemPrompt, Voice: r.Voice, Tools: r.Tools,
		Record: r.Record,
	}
	if r.BindSession {
		id, err := randomHex(sessionIDBytes)
		if err != nil {
			return Token{}, err
		}
		c.SessionID = "sess_" + id
	}
	key := t.cfg.Keys[0]
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
	tok.Header["kid"] = key.ID
	signed, err := tok.SignedString(key.Secret)
	if err != nil {
		return Token{}, fmt.Errorf("auth: sign: %w", err)
	}
	return Token{Token: signed, ExpiresAt: c.ExpiresAt.Time, SessionID: c.SessionID}, nil
}

// Verify checks a token: signature under the key its kid names, HS256
// only, issuer, expiry. Errors: ErrTokenMalformed, ErrTokenExpired,
// ErrTokenInvalid, ErrTokensOff.
func (t *Tokens) Verify(raw string) (*Claims, error) {
	if !t.Enabled() {
		return nil, ErrTokensOff
	}
	var c Claims
	_, err := jwt.ParseWithClaims(raw, &c, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		for _, k := range t.cfg.Keys {
			if k.ID == kid {
				return k.Secret, nil
			}
		}
		return nil, fmt.Errorf("unknown key id %q", kid)
	}, jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithIssuer(issuer),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(t.clock.Now))
	switch {
	case err == nil:
		return &c, nil
	case errors.Is(err, jwt.ErrTokenMalformed):
		return nil, ErrTokenMalformed
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, ErrTokenExpired
	}
	return nil, fmt.Errorf("%w: %w", ErrTokenInvalid, err)
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("auth: random: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// claimsKey is the context key of verified claims.
type claimsKey struct{}

// WithClaims returns ctx carrying a request's verified token claims.
func WithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// ClaimsFrom returns the verified token claims of a request, nil when it
// was authenticated otherwise (an API key) or not at all.
func ClaimsFrom(ctx context.Context) *Claims {
	c, _ := ctx.Value(claimsKey{}).(*Claims)
	return c
}
