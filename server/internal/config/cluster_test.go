package config

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testClusterSecret = "cluster-s3cret-0123456789"

// TestClusterConfigValidated: with cluster.enabled every cluster key is
// checked and each error names its key; the drain keys too.
func TestClusterConfigValidated(t *testing.T) {
	const ok = "cluster: {enabled: true, advertise_url: 'http://10.0.0.5:8080'"
	for name, tc := range map[string]struct{ yaml, want, wantAllowed string }{
		"no advertise_url": {"cluster: {enabled: true}", "cluster.advertise_url", "base URL"},
		"advertise path":   {"cluster: {enabled: true, advertise_url: 'http://10.0.0.5:8080/x'}", "cluster.advertise_url", "base URL"},
		"advertise scheme": {"cluster: {enabled: true, advertise_url: 'ftp://10.0.0.5'}", "cluster.advertise_url", "base URL"},
		"ttl too short":    {ok + ", heartbeat_interval: 2s, node_ttl: 3s}", "cluster.node_ttl", "at least 2 × cluster.heartbeat_interval"},
		"zero heartbeat":   {ok + ", heartbeat_interval: 0s}", "cluster.heartbeat_interval", "> 0"},
		"negative cap":     {ok + ", max_sessions: -1}", "cluster.max_sessions", ""},
		"negative ip cap":  {ok + ", max_sessions_per_ip: -2}", "cluster.max_sessions_per_ip", ""},
		"bad policy":       {ok + ", redis_unavailable: maybe}", "cluster.redis_unavailable", "local, refuse"},
		"secret unset":     {ok + ", secret_env: UNSET_CLUSTER_SECRET}", "cluster.secret_env", "at least 16 bytes"},
		"secret a setting": {ok + ", secret_env: PARLEY_SECRET}", "cluster.secret_env", "must not start with PARLEY_"},
		"empty secret_env": {ok + ", secret_env: ''}", "cluster.secret_env", "must name the variable"},
		"bad drain mode":   {"http: {drain_mode: linger}", "http.drain_mode", "close, wait"},
		"negative delay":   {"http: {shutdown_delay: -1s}", "http.shutdown_delay", ""},
		"no redis addr":    {ok + "}\nredis: {addr: ''}", "redis.addr", ""},
	} {
		t.Run(name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "p.yaml", tc.yaml)
			_, err := LoadWith(Options{Paths: []string{path}, Environ: func() []string {
				return []string{EnvClusterSecret + "=" + testClusterSecret}
			}})
			require.Error(t, err)
			var fe *FieldError
			require.True(t, errors.As(err, &fe), "want a *FieldError, got %T: %v", err, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), tc.wantAllowed)
			assert.NotContains(t, err.Error(), testClusterSecret, "an error never shows the secret")
		})
	}
}

// TestClusterConfigLoads: defaults, the secret from its (reserved)
// variable, the node id from the hostname, and config print without the
// secret. Off, nothing is required.
func TestClusterConfigLoads(t *testing.T) {
	cfg, err := LoadWith(Options{Environ: func() []string { return nil }})
	require.NoError(t, err)
	assert.False(t, cfg.Cluster.Enabled, "off by default")
	assert.Equal(t, DrainClose, cfg.HTTP.DrainMode, "SIGTERM ends live sessions at once unless drain_mode is wait")
	assert.Zero(t, cfg.HTTP.ShutdownDelay)
	assert.Equal(t, RedisUnavailableLocal, cfg.Cluster.RedisUnavailable)

	path := writeFile(t, t.TempDir(), "p.yaml", `
http: {shutdown_delay: 10s, drain_mode: wait, drain_timeout: 10m}
cluster: {enabled: true, advertise_url: "http://10.0.0.5:8080", max_sessions: 400, redis_unavailable: refuse}
`)
	cfg, err = LoadWith(Options{Paths: []string{path}, Environ: func() []string {
		return []string{EnvClusterSecret + "=" + testClusterSecret}
	}})
	require.NoError(t, err)
	c := cfg.Cluster
	assert.True(t, c.Enabled)
	assert.NotEmpty(t, c.NodeID, "the hostname by default")
	assert.Equal(t, 2*time.Second, c.HeartbeatInterval)
	assert.Equal(t, 10*time.Second, c.NodeTTL)
	assert.Equal(t, []byte(testClusterSecret), c.Secret)
	assert.Equal(t, 400, c.MaxSessions)
	assert.Equal(t, RedisUnavailableRefuse, c.RedisUnavailable)
	assert.Equal(t, DrainWait, cfg.HTTP.DrainMode)
	assert.Equal(t, 10*time.Minute, cfg.HTTP.DrainTimeout)
	out, err := cfg.YAML()
	require.NoError(t, err)
	assert.NotContains(t, string(out), testClusterSecret)
	assert.Contains(t, string(out), "secret_env: "+EnvClusterSecret)
}
