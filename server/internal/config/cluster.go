package config

import (
	"net/url"
	"strings"
	"time"
)

// Cluster defaults.
const (
	defaultHeartbeatInterval = 2 * time.Second
	defaultNodeTTL           = 10 * time.Second
	// minNodeTTLBeats is how many heartbeats fit into node_ttl at least:
	// one late heartbeat must not make a live node look dead.
	minNodeTTLBeats = 2
	// EnvClusterSecret is the default cluster.secret_env.
	EnvClusterSecret = "PARLEY_CLUSTER_SECRET"
	// minClusterSecretBytes is the shortest node-to-node secret accepted.
	minClusterSecretBytes = 16
)

// RedisUnavailable is what a cluster node does with a new session while
// Redis cannot be reached.
type RedisUnavailable string

// The cluster.redis_unavailable policies.
const (
	// RedisUnavailableLocal admits against the node's own caps only
	// (session.max_sessions, session.max_sessions_per_ip), logged and
	// counted.
	RedisUnavailableLocal RedisUnavailable = "local"
	// RedisUnavailableRefuse refuses new sessions (session_limit) until
	// Redis is back.
	RedisUnavailableRefuse RedisUnavailable = "refuse"
)

// Cluster configures cluster mode: several Parley nodes behind a load
// balancer, coordinated through Redis (redis.*).
type Cluster struct {
	// Enabled turns cluster mode on. Off, a node uses no Redis for
	// sessions and behaves as a single server.
	Enabled bool `koanf:"enabled"`
	// NodeID names this node in the registry (default: the hostname).
	NodeID string `koanf:"node_id"`
	// AdvertiseURL is this node's base URL as the other nodes reach it
	// (http://10.0.0.5:8080); forwarded requests go there.
	AdvertiseURL string `koanf:"advertise_url"`
	// HeartbeatInterval is how often the node refreshes its registry
	// entries and leases.
	HeartbeatInterval time.Duration `koanf:"heartbeat_interval"`
	// NodeTTL is how long the entries of a node that stopped beating
	// live on (its sessions and leases expire with it).
	NodeTTL time.Duration `koanf:"node_ttl"`
	// SecretEnv names the environment variable holding the secret the
	// nodes share for node-to-node calls.
	SecretEnv string `koanf:"secret_env"`
	// Secret is resolved from SecretEnv. Secret: never printed or logged.
	Secret []byte `koanf:"-"`
	// MaxSessions and MaxSessionsPerIP are cluster-wide caps (0 = none),
	// on top of each node's session.* caps.
	MaxSessions      int `koanf:"max_sessions"`
	MaxSessionsPerIP int `koanf:"max_sessions_per_ip"`
	// RedisUnavailable is the admission policy while Redis is down.
	RedisUnavailable RedisUnavailable `koanf:"redis_unavailable"`
}

func defaultCluster() Cluster {
	return Cluster{
		HeartbeatInterval: defaultHeartbeatInterval,
		NodeTTL:           defaultNodeTTL,
		SecretEnv:         EnvClusterSecret,
		RedisUnavailable:  RedisUnavailableLocal,
	}
}

func (c *Config) validateCluster(v *validator) {
	cl := c.Cluster
	v.atLeast("cluster.max_sessions", int64(cl.MaxSessions), 0)
	v.atLeast("cluster.max_sessions_per_ip", int64(cl.MaxSessionsPerIP), 0)
	if !oneOf(cl.RedisUnavailable, RedisUnavailableLocal, RedisUnavailableRefuse) {
		v.fail("cluster.redis_unavailable", cl.RedisUnavailable, "must be one of %s", joinStr(RedisUnavailableLocal, RedisUnavailableRefuse))
	}
	if !cl.Enabled {
		return
	}
	v.positive("cluster.heartbeat_interval", cl.HeartbeatInterval)
	v.positive("cluster.node_ttl", cl.NodeTTL)
	if cl.HeartbeatInterval > 0 && cl.NodeTTL < minNodeTTLBeats*cl.HeartbeatInterval {
		v.fail("cluster.node_ttl", cl.NodeTTL, "must be at least %d × cluster.heartbeat_interval (%s)", minNodeTTLBeats, cl.HeartbeatInterval)
	}
	if u, err := url.Parse(cl.AdvertiseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		v.fail("cluster.advertise_url", cl.AdvertiseURL, "must be this node's base URL as the other nodes reach it (http://10.0.0.5:8080)")
	}
	switch {
	case cl.SecretEnv == "":
		v.fail("cluster.secret_env", cl.SecretEnv, "must name the variable holding the nodes' shared secret")
	case cl.SecretEnv != EnvClusterSecret && strings.HasPrefix(cl.SecretEnv, EnvPrefix):
		v.fail("cluster.secret_env", cl.SecretEnv, "must not start with %s (those are settings), except the reserved %s", EnvPrefix, EnvClusterSecret)
	case len(cl.Secret) < minClusterSecretBytes:
		v.fail("cluster.secret_env", cl.SecretEnv, "the variable must hold the nodes' shared secret, at least %d bytes (it is unset or shorter)", minClusterSecretBytes)
	}
	v.addr("redis.addr", c.Redis.Addr, false)
}
