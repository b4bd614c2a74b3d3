package turn_test

import (
	"crypto/sha1" //nolint:gosec // the scheme under test is HMAC-SHA1.
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/turn"
)

// hmacSHA1 is HMAC-SHA1 written out from RFC 2104 (H(K^opad, H(K^ipad, m))),
// independently of crypto/hmac, which the package uses.
func hmacSHA1(key, msg []byte) []byte {
	const blockSize, ipad, opad = 64, 0x36, 0x5c
	if len(key) > blockSize {
		sum := sha1.Sum(key) //nolint:gosec // see above.
		key = sum[:]
	}
	k := make([]byte, blockSize)
	copy(k, key)
	inner := make([]byte, 0, blockSize+len(msg))
	outer := make([]byte, 0, blockSize+sha1.Size)
	for _, b := range k {
		inner = append(inner, b^ipad)
		outer = append(outer, b^opad)
	}
	ih := sha1.Sum(append(inner, msg...))   //nolint:gosec // see above.
	oh := sha1.Sum(append(outer, ih[:]...)) //nolint:gosec // see above.
	return oh[:]
}

// specPassword is the TURN REST API password of username, from the spec:
// base64(HMAC-SHA1(secret, username)).
func specPassword(secret, username string) string {
	return base64.StdEncoding.EncodeToString(hmacSHA1([]byte(secret), []byte(username)))
}

// TestPasswordRFC2202: the HMAC-SHA1 under the password is the standard
// one (RFC 2202 test cases 1, 2 and 6), and so is the test's own HMAC.
func TestPasswordRFC2202(t *testing.T) {
	for _, tc := range []struct {
		name, key, data, digestHex string
	}{
		{"case 1", strings.Repeat("\x0b", 20), "Hi There", "b617318655057264e28bc0b6fb378c8ef146be00"},
		{"case 2", "Jefe", "what do ya want for nothing?", "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
		{"case 6 (key longer than a block)", strings.Repeat("\xaa", 80), "Test Using Larger Than Block-Size Key - Hash Key First", "aa4ae5e15272d00e95705637ce8a3b55ed402112"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			digest, err := hex.DecodeString(tc.digestHex)
			require.NoError(t, err)
			want := base64.StdEncoding.EncodeToString(digest)
			assert.Equal(t, want, turn.Password([]byte(tc.key), tc.data))
			assert.Equal(t, want, specPassword(tc.key, tc.data), "the test's HMAC")
		})
	}
}

// TestIssueKnownVector: username "<expiry>:<user>", password from the spec
// formula, both for a fixed instant.
func TestIssueKnownVector(t *testing.T) {
	const secret = "parley-test-secret"
	now := time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC) // Unix 1767225600
	c, err := turn.Issue([]byte(secret), "sess_abc", now, time.Hour)
	require.NoError(t, err)
	assert.Equal(t, "1767229200:sess_abc", c.Username)
	assert.Equal(t, specPassword(secret, "1767229200:sess_abc"), c.Password)
	// Computed outside Go: echo -n 1767229200:sess_abc | openssl dgst -sha1 -hmac parley-test-secret -binary | base64
	assert.Equal(t, "7GhcPqCEvJL55bpupTdnufCfgLY=", c.Password)
	assert.Equal(t, int64(1767229200), c.ExpiresAt.Unix())
}

// TestIssueExpiry: the expiry in the username is now + ttl in whole
// seconds, the same instant as ExpiresAt, and moves with now.
func TestIssueExpiry(t *testing.T) {
	secret := []byte("k")
	now := time.Date(2026, time.March, 4, 5, 6, 7, 700_000_000, time.UTC)
	for _, ttl := range []time.Duration{time.Second, 90 * time.Second, time.Hour, 24 * time.Hour} {
		c, err := turn.Issue(secret, "parley", now, ttl)
		require.NoError(t, err)
		exp, user, ok := strings.Cut(c.Username, turn.Separator)
		require.True(t, ok, c.Username)
		assert.Equal(t, "parley", user)
		secs, err := strconv.ParseInt(exp, 10, 64)
		require.NoError(t, err)
		assert.Equal(t, now.Add(ttl).Unix(), secs, "ttl %s", ttl)
		assert.Equal(t, secs, c.ExpiresAt.Unix())
		assert.False(t, c.ExpiresAt.After(now.Add(ttl)), "never valid longer than asked")
		assert.True(t, c.ExpiresAt.After(now.Add(ttl-time.Second)))
	}
	a, err := turn.Issue(secret, "parley", now, time.Hour)
	require.NoError(t, err)
	b, err := turn.Issue(secret, "parley", now.Add(time.Minute), time.Hour)
	require.NoError(t, err)
	assert.NotEqual(t, a.Username, b.Username, "a later request gets a later expiry")
	assert.NotEqual(t, a.Password, b.Password)
}

// TestIssueSecretRotation: once the shared secret changes, the same user
// at the same instant gets the same username but a password only the new
// secret checks; the old secret's password no longer matches.
func TestIssueSecretRotation(t *testing.T) {
	const oldSecret, newSecret = "secret-before-rotation", "secret-after-rotation"
	now := time.Unix(1_800_000_000, 0)
	before, err := turn.Issue([]byte(oldSecret), "sess_1", now, time.Hour)
	require.NoError(t, err)
	after, err := turn.Issue([]byte(newSecret), "sess_1", now, time.Hour)
	require.NoError(t, err)
	assert.Equal(t, before.Username, after.Username)
	assert.NotEqual(t, before.Password, after.Password)
	assert.Equal(t, specPassword(newSecret, after.Username), after.Password)
	assert.NotEqual(t, specPassword(newSecret, before.Username), before.Password, "a TURN server on the new secret refuses the old password")
	assert.Equal(t, specPassword(oldSecret, before.Username), before.Password, "one still on the old secret accepts it until it expires")
}

func TestIssueErrors(t *testing.T) {
	const secret = "do-not-show-me"
	now := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		name   string
		secret string
		user   string
		ttl    time.Duration
		want   error
	}{
		{"empty secret", "", "parley", time.Hour, turn.ErrNoSecret},
		{"zero ttl", secret, "parley", 0, turn.ErrBadTTL},
		{"negative ttl", secret, "parley", -time.Minute, turn.ErrBadTTL},
		{"ttl under a second", secret, "parley", 500 * time.Millisecond, turn.ErrBadTTL},
		{"empty user", secret, "", time.Hour, turn.ErrBadUser},
		{"user with the separator", secret, "a:b", time.Hour, turn.ErrBadUser},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := turn.Issue([]byte(tc.secret), tc.user, now, tc.ttl)
			require.ErrorIs(t, err, tc.want)
			assert.Equal(t, turn.Credential{}, c)
			assert.NotContains(t, err.Error(), secret)
		})
	}
}
