package webrtc_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // the TURN REST API scheme is HMAC-SHA1.
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/auth"
	"github.com/parleyhq/parley/server/internal/clock"
	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/httpapi"
	"github.com/parleyhq/parley/server/internal/session"
	"github.com/parleyhq/parley/server/internal/session/sessiontest"
	rtc "github.com/parleyhq/parley/server/internal/transport/webrtc"
	"github.com/parleyhq/parley/server/internal/turn"
)

// syncBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// specTURNPassword is the TURN REST API password of username:
// base64(HMAC-SHA1(secret, username)), computed here, not by the package.
func specTURNPassword(secret, username string) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// getICE fetches the ICE server list with bearer ("" = no credential).
func (hs *harness) getICE(bearer string) (*http.Response, []byte) {
	hs.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, hs.srv.URL+rtc.ICEServersPath, nil)
	require.NoError(hs.t, err)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(hs.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(hs.t, err)
	return resp, b
}

// iceList fetches and decodes the list, which must be served.
func (hs *harness) iceList(bearer string) rtc.ICEServersResponse {
	hs.t.Helper()
	resp, b := hs.getICE(bearer)
	require.Equal(hs.t, http.StatusOK, resp.StatusCode, string(b))
	assert.Equal(hs.t, "application/json", resp.Header.Get("Content-Type"))
	assert.Equal(hs.t, "no-store", resp.Header.Get("Cache-Control"), "credentials must not be cached")
	var body rtc.ICEServersResponse
	require.NoError(hs.t, json.Unmarshal(b, &body))
	return body
}

// expiryOf is the expiry a TURN REST API username carries.
func expiryOf(t *testing.T, username string) (time.Time, string) {
	t.Helper()
	exp, user, ok := strings.Cut(username, ":")
	require.True(t, ok, "username %q has no expiry", username)
	secs, err := strconv.ParseInt(exp, 10, 64)
	require.NoError(t, err)
	return time.Unix(secs, 0), user
}

const (
	iceTestSecret = "turn-shared-secret-never-shown"
	iceTestKey    = "client-key-1"
)

// TestICEServersEndpoint: the route needs a client credential like the
// other voice routes; served, it lists STUN and static entries as
// configured and hmac entries with credentials issued at request time,
// and neither the body nor the log ever holds the shared secret.
func TestICEServersEndpoint(t *testing.T) {
	start := time.Date(2026, time.May, 1, 12, 0, 0, 0, time.UTC)
	clk := sessiontest.NewManualClock(start)
	var logs syncBuffer
	hs := newHarness(t, reply("Hi."), nil, func(s *setup) {
		s.rtc.ICEServers = []config.ICEServer{
			{URLs: []string{"stun:stun.example.test:3478"}},
			{
				URLs:           []string{"turn:turn.example.test:3478?transport=udp", "turns:turn.example.test:5349"},
				CredentialType: config.ICECredentialHMAC, SecretEnv: "TURN_SECRET", Secret: []byte(iceTestSecret), TTL: 10 * time.Minute,
			},
			{URLs: []string{"turn:static.example.test:3478"}, Username: "alice", Credential: "static-pass"},
		}
		s.httpapi = &httpapi.Options{Auth: config.Auth{APIKeys: []string{iceTestKey}}}
		s.logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		s.clock = clk
	})

	for name, bearer := range map[string]string{"no credential": "", "wrong key": "not-the-key"} {
		t.Run("refused with "+name, func(t *testing.T) {
			resp, b := hs.getICE(bearer)
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			assert.Contains(t, string(b), `"code":"unauthorized"`)
			assert.NotContains(t, string(b), "username")
		})
	}

	var first rtc.ICEServersResponse
	t.Run("fresh credentials", func(t *testing.T) {
		first = hs.iceList(iceTestKey)
		require.Len(t, first.ICEServers, 3)
		assert.Equal(t, rtc.ICEServerJSON{URLs: []string{"stun:stun.example.test:3478"}}, first.ICEServers[0])
		assert.Equal(t, rtc.ICEServerJSON{URLs: []string{"turn:static.example.test:3478"}, Username: "alice", Credential: "static-pass"},
			first.ICEServers[2])

		issued := first.ICEServers[1]
		assert.Equal(t, []string{"turn:turn.example.test:3478?transport=udp", "turns:turn.example.test:5349"}, issued.URLs)
		exp, user := expiryOf(t, issued.Username)
		assert.Equal(t, "parley", user, "without a session-bound token the user part is parley")
		assert.True(t, exp.Equal(start.Add(10*time.Minute)), "expiry %s", exp)
		assert.True(t, first.ExpiresAt.Equal(exp), "expires_at %s", first.ExpiresAt)
		assert.Equal(t, specTURNPassword(iceTestSecret, issued.Username), issued.Credential)

		clk.Advance(time.Minute)
		later := hs.iceList(iceTestKey)
		again := later.ICEServers[1]
		exp2, _ := expiryOf(t, again.Username)
		assert.True(t, exp2.Equal(start.Add(11*time.Minute)), "a later request gets a later expiry: %s", exp2)
		assert.NotEqual(t, issued.Credential, again.Credential)
		assert.Equal(t, specTURNPassword(iceTestSecret, again.Username), again.Credential)
	})

	t.Run("no secret leaked", func(t *testing.T) {
		_, b := hs.getICE(iceTestKey)
		assert.NotContains(t, string(b), iceTestSecret)
		assert.NotContains(t, string(b), "TURN_SECRET", "not even the variable's name")
		assert.NotContains(t, logs.String(), iceTestSecret)
		for _, s := range first.ICEServers {
			if s.Credential != "" {
				assert.NotContains(t, logs.String(), s.Credential, "nor an issued credential")
			}
		}
	})
}

// TestICEServersTokenSession: with a client token bound to a session, the
// TURN username carries that session id; a bad token is refused.
func TestICEServersTokenSession(t *testing.T) {
	tokens := auth.New(config.Tokens{
		Keys:       []config.TokenKey{{ID: "k1", Secret: []byte(strings.Repeat("s", 32))}},
		DefaultTTL: 5 * time.Minute, MaxTTL: time.Hour,
	}, clock.System{})
	tok, err := tokens.Mint(auth.Request{BindSession: true})
	require.NoError(t, err)
	require.NotEmpty(t, tok.SessionID)
	hs := newHarness(t, reply("Hi."), nil, func(s *setup) {
		s.rtc.ICEServers = []config.ICEServer{{
			URLs: []string{"turn:turn.example.test:3478"}, CredentialType: config.ICECredentialHMAC, Secret: []byte(iceTestSecret),
		}}
		s.httpapi = &httpapi.Options{Tokens: tokens}
	})
	before := time.Now()
	list := hs.iceList(tok.Token)
	require.Len(t, list.ICEServers, 1)
	exp, user := expiryOf(t, list.ICEServers[0].Username)
	assert.Equal(t, tok.SessionID, user)
	assert.False(t, exp.Before(before.Add(config.DefaultICECredentialTTL).Truncate(time.Second)), "ttl 0 is an hour: %s", exp)
	assert.False(t, exp.After(time.Now().Add(config.DefaultICECredentialTTL)), "ttl 0 is an hour: %s", exp)

	resp, b := hs.getICE("not.a.token")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.NotContains(t, string(b), "ice_servers")
}

// TestICEServersEmpty: with nothing configured the list is empty and has no
// expiry, which the browser client treats as "host candidates only".
func TestICEServersEmpty(t *testing.T) {
	hs := newHarness(t, reply("Hi."), nil, nil)
	resp, b := hs.getICE("")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.JSONEq(t, `{"ice_servers":[]}`, string(b))
}

// TestNewRefusesHMACWithoutSecret: a handler whose hmac entry has no
// secret fails at start with a typed error naming the entry, not on each
// offer.
func TestNewRefusesHMACWithoutSecret(t *testing.T) {
	s := defaultSetup()
	mgr, err := session.NewManager(s.session, s.vad, config.Tools{Timezone: "UTC"},
		session.Plugins{STT: &sessiontest.STT{}, LLM: reply("x"), TTS: &sessiontest.TTS{}}, nil, prometheus.NewRegistry(),
		slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	s.rtc.ICEServers = []config.ICEServer{
		{URLs: []string{"stun:stun.example.test:3478"}},
		{URLs: []string{"turn:turn.example.test:3478"}, CredentialType: config.ICECredentialHMAC, SecretEnv: "TURN_SECRET"},
	}
	h, err := rtc.New(s.rtc, mgr, nil)
	require.Error(t, err)
	assert.Nil(t, h)
	require.ErrorIs(t, err, rtc.ErrICECredentials)
	require.ErrorIs(t, err, turn.ErrNoSecret)
	assert.Contains(t, err.Error(), "ice_servers[1]")
}
