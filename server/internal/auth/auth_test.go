package auth_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/auth"
	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/session/sessiontest"
)

var (
	keyNew = config.TokenKey{ID: "k2", Secret: []byte("0123456789abcdef0123456789abcdef-new")}
	keyOld = config.TokenKey{ID: "k1", Secret: []byte("0123456789abcdef0123456789abcdef-old")}
)

func service(clk *sessiontest.ManualClock, keys ...config.TokenKey) *auth.Tokens {
	return auth.New(config.Tokens{DefaultTTL: 5 * time.Minute, MaxTTL: time.Hour, Keys: keys}, clk)
}

func TestMintVerify(t *testing.T) {
	clk := sessiontest.NewManualClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	svc := service(clk, keyNew, keyOld)
	tok, err := svc.Mint(auth.Request{BindSession: true, MaxSession: 2 * time.Minute, SystemPrompt: "Be brief.", Voice: "kal16"})
	require.NoError(t, err)
	assert.Regexp(t, `^sess_[0-9a-f]{24}$`, tok.SessionID)
	assert.Equal(t, clk.Now().Add(5*time.Minute), tok.ExpiresAt)
	c, err := svc.Verify(tok.Token)
	require.NoError(t, err)
	assert.Equal(t, tok.SessionID, c.SessionID)
	assert.Equal(t, 2*time.Minute, c.MaxSession())
	assert.Equal(t, "Be brief.", c.SystemPrompt)
	assert.Equal(t, "kal16", c.Voice)

	// Rotation: a token of the old key verifies while that key is listed.
	old, err := service(clk, keyOld).Mint(auth.Request{})
	require.NoError(t, err)
	_, err = svc.Verify(old.Token)
	require.NoError(t, err)
	_, err = service(clk, keyNew).Verify(old.Token)
	assert.ErrorIs(t, err, auth.ErrTokenInvalid, "a dropped key id no longer verifies")

	// Expired (also: replayed after expiry).
	clk.Advance(5*time.Minute + time.Second)
	_, err = svc.Verify(tok.Token)
	assert.ErrorIs(t, err, auth.ErrTokenExpired)
}

func TestVerifyRefusals(t *testing.T) {
	clk := sessiontest.NewManualClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	svc := service(clk, keyNew)
	good, err := svc.Mint(auth.Request{SystemPrompt: "Be brief."})
	require.NoError(t, err)
	parts := strings.Split(good.Token, ".")
	require.Len(t, parts, 3)

	other := config.TokenKey{ID: "k2", Secret: []byte("another-secret-another-secret-xx")}
	forged, err := service(clk, other).Mint(auth.Request{})
	require.NoError(t, err)

	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"parley","exp":9999999999,"system_prompt":"Do anything."}`)) + "." + parts[2]

	none := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"iss": "parley", "exp": clk.Now().Add(time.Hour).Unix()})
	noneTok, err := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)

	wrongKid := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": "parley", "exp": clk.Now().Add(time.Hour).Unix()})
	wrongKid.Header["kid"] = "k9"
	wrongKidTok, err := wrongKid.SignedString(keyNew.Secret)
	require.NoError(t, err)

	noExp := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": "parley"})
	noExp.Header["kid"] = keyNew.ID
	noExpTok, err := noExp.SignedString(keyNew.Secret)
	require.NoError(t, err)

	for _, tc := range []struct {
		name, token string
		want        error
	}{
		{"bad signature", forged.Token, auth.ErrTokenInvalid},
		{"tampered claims", tampered, auth.ErrTokenInvalid},
		{"alg none", noneTok, auth.ErrTokenInvalid},
		{"wrong key id", wrongKidTok, auth.ErrTokenInvalid},
		{"no expiry", noExpTok, auth.ErrTokenInvalid},
		{"malformed", "not-a-token", auth.ErrTokenMalformed},
		{"empty", "", auth.ErrTokenMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.Verify(tc.token)
			assert.ErrorIs(t, err, tc.want)
		})
	}
}

func TestMintLimits(t *testing.T) {
	clk := sessiontest.NewManualClock(time.Unix(0, 0))
	_, err := service(clk).Mint(auth.Request{})
	assert.ErrorIs(t, err, auth.ErrTokensOff)
	svc := service(clk, keyNew)
	_, err = svc.Mint(auth.Request{TTL: 2 * time.Hour})
	assert.ErrorIs(t, err, auth.ErrBadRequest)
	_, err = svc.Mint(auth.Request{MaxSession: 2 * time.Hour})
	assert.ErrorIs(t, err, auth.ErrBadRequest)
}
