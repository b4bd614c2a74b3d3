package config

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestICEServersValidated: every webrtc.ice_servers entry is checked, and
// each error names the entry's key.
func TestICEServersValidated(t *testing.T) {
	const secretEnv = "TURN_TEST_SECRET"
	for name, tc := range map[string]struct{ yaml, want, wantAllowed string }{
		"hmac without secret_env": {
			"webrtc: {ice_servers: [{urls: ['turn:turn.example:3478'], credential_type: hmac}]}",
			"webrtc.ice_servers[0].secret_env", "must name the environment variable",
		},
		"hmac secret_env not set": {
			"webrtc: {ice_servers: [{urls: ['turn:turn.example:3478'], credential_type: hmac, secret_env: TURN_UNSET_SECRET}]}",
			"webrtc.ice_servers[0].secret_env", "not set or empty",
		},
		"hmac secret_env a Parley setting": {
			"webrtc: {ice_servers: [{urls: ['turn:turn.example:3478'], credential_type: hmac, secret_env: PARLEY_TURN}]}",
			"webrtc.ice_servers[0].secret_env", "must not start with PARLEY_",
		},
		"hmac with a static username": {
			"webrtc: {ice_servers: [{urls: ['turn:t:3478'], credential_type: hmac, secret_env: " + secretEnv + ", username: u, credential: c}]}",
			"webrtc.ice_servers[0].username", "must be empty with credential_type hmac",
		},
		"hmac with a stun url": {
			"webrtc: {ice_servers: [{urls: ['turn:t:3478', 'stun:t:3478'], credential_type: hmac, secret_env: " + secretEnv + "}]}",
			"webrtc.ice_servers[0].urls[1]", "must be a turn: or turns: URL",
		},
		"hmac ttl under a second": {
			"webrtc: {ice_servers: [{urls: ['turn:t:3478'], credential_type: hmac, secret_env: " + secretEnv + ", ttl: 10ms}]}",
			"webrtc.ice_servers[0].ttl", "at least 1s",
		},
		"unknown credential type": {
			"webrtc: {ice_servers: [{urls: ['turn:t:3478'], credential_type: oauth}]}",
			"webrtc.ice_servers[0].credential_type", "static, hmac",
		},
		"static turn without credentials": {
			"webrtc: {ice_servers: [{urls: ['stun:s:3478']}, {urls: ['turn:t:3478'], username: u}]}",
			"webrtc.ice_servers[1].username", "needs username and credential",
		},
		"secret_env on a static entry": {
			"webrtc: {ice_servers: [{urls: ['turn:t:3478'], username: u, credential: c, secret_env: " + secretEnv + "}]}",
			"webrtc.ice_servers[0].secret_env", "needs credential_type hmac",
		},
		"ttl on a static entry": {
			"webrtc: {ice_servers: [{urls: ['turn:t:3478'], username: u, credential: c, ttl: 1h}]}",
			"webrtc.ice_servers[0].ttl", "needs credential_type hmac",
		},
		"bad url": {
			"webrtc: {ice_servers: [{urls: ['http://t:3478']}]}",
			"webrtc.ice_servers[0].urls[0]", "must start with stun:, turn: or turns:",
		},
	} {
		t.Run(name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "p.yaml", tc.yaml)
			_, err := LoadWith(Options{Paths: []string{path}, Environ: func() []string { return []string{secretEnv + "=s3cret-turn"} }})
			require.Error(t, err)
			var fe *FieldError
			require.True(t, errors.As(err, &fe), "want a *FieldError, got %T: %v", err, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), tc.wantAllowed)
			assert.NotContains(t, err.Error(), "s3cret-turn", "an error never shows the secret")
		})
	}
}

// TestICEServersHMACLoads: the secret is read from the variable secret_env
// names, ttl defaults to an hour, static entries stay as they are, and
// config print shows neither the secret nor a static credential.
func TestICEServersHMACLoads(t *testing.T) {
	path := writeFile(t, t.TempDir(), "p.yaml", `
webrtc:
  ice_servers:
    - urls: ["stun:stun.example:3478"]
    - urls: ["turn:turn.example:3478?transport=udp", "turns:turn.example:5349"]
      credential_type: hmac
      secret_env: TURN_SECRET
    - urls: ["turn:turn.example:3478"]
      credential_type: hmac
      secret_env: TURN_SECRET
      ttl: 10m
    - urls: ["turn:legacy.example:3478"]
      username: alice
      credential: static-pass-123
`)
	cfg, err := LoadWith(Options{Paths: []string{path}, Environ: func() []string { return []string{"TURN_SECRET=s3cret-turn-value"} }})
	require.NoError(t, err)
	ice := cfg.WebRTC.ICEServers
	require.Len(t, ice, 4)
	assert.False(t, ice[0].HMAC())
	assert.True(t, ice[1].HMAC())
	assert.Equal(t, []byte("s3cret-turn-value"), ice[1].Secret)
	assert.Equal(t, time.Hour, ice[1].CredentialTTL(), "ttl 0 is the default")
	assert.Equal(t, 10*time.Minute, ice[2].CredentialTTL())
	assert.Equal(t, "alice", ice[3].Username)
	assert.False(t, ice[3].HMAC(), "no credential_type is static")

	out, err := cfg.YAML()
	require.NoError(t, err)
	assert.NotContains(t, string(out), "s3cret-turn-value")
	assert.NotContains(t, string(out), "static-pass-123")
	assert.Contains(t, string(out), "secret_env: TURN_SECRET")
	assert.Contains(t, string(out), "credential_type: hmac")
}
