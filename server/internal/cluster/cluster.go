// Package cluster coordinates several Parley nodes behind an ordinary load
// balancer through Redis, the only shared part: a node registry (a hash
// per node with a TTL, refreshed by heartbeat), a session registry
// (session id → node, with a TTL refreshed while the session lives),
// cluster-wide admission by one atomic script with expiring leases, and
// forwarding of per-session requests to the node that holds the session.
//
// A node that dies stops beating: its entries and leases expire within
// cluster.node_ttl. While Redis is unreachable a node keeps serving its
// live sessions and admits new ones by cluster.redis_unavailable; the next
// successful heartbeat restores every entry.
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/session"
)

// Node states in the registry.
const (
	StateServing  = "serving"
	StateDraining = "draining"
)

// Timeouts of the node's Redis calls: admission is on the path of a new
// call, so a Redis that hangs must not hang it.
const (
	redisCallTimeout = 500 * time.Millisecond
	leaseIDBytes     = 8
	logKeyNode       = "node_id"
	metricsNamespace = "parley"
	metricsSubsystem = "cluster"
)

// Node is this process's membership in the cluster.
type Node struct {
	cfg    config.Cluster
	client redis.UniversalClient
	log    *slog.Logger
	met    *metrics
	// capacity is this node's own session cap (session.max_sessions).
	capacity int
	version  string
	started  time.Time
	keys     keys
	http     *http.Client

	admit, beat, release, leave *redis.Script

	mu       sync.Mutex
	slots    map[string]*slot
	draining bool
	// up is whether the last Redis call succeeded.
	up bool
	// wake asks the heartbeat loop for an early beat (state change).
	wake chan struct{}
}

// keys names the Redis keys under redis.key_prefix + "cluster:".
type keys struct {
	prefix string
}

func (k keys) nodes() string            { return k.prefix + "nodes" }
func (k keys) node(id string) string    { return k.prefix + "node:" + id }
func (k keys) leases() string           { return k.prefix + "leases" }
func (k keys) ip(ip string) string      { return k.prefix + "ip:" + ip }
func (k keys) session(id string) string { return k.prefix + "session:" + id }

// New returns the node for cfg. client talks to the shared Redis, keys
// start with redisPrefix + "cluster:", capacity is this node's own cap
// (session.max_sessions), reg may be nil. The node counts the sessions it
// admitted (it is the session manager's Admitter).
func New(cfg config.Cluster, redisPrefix string, client redis.UniversalClient, capacity int,
	version string, reg prometheus.Registerer, logger *slog.Logger,
) (*Node, error) {
	if client == nil {
		return nil, errors.New("cluster: redis client is required")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	met, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	n := &Node{
		cfg: cfg, client: client, capacity: capacity, version: version,
		log: logger.With(logKeyNode, cfg.NodeID), met: met, started: time.Now(),
		keys:  keys{prefix: redisPrefix + "cluster:"},
		http:  &http.Client{Timeout: fanOutTimeout},
		admit: redis.NewScript(admitScript), beat: redis.NewScript(heartbeatScript),
		release: redis.NewScript(releaseScript), leave: redis.NewScript(leaveScript),
		slots: map[string]*slot{}, up: true, wake: make(chan struct{}, 1),
	}
	return n, nil
}

// ID is this node's id.
func (n *Node) ID() string { return n.cfg.NodeID }

// slot is one admitted session of this node: a session.Ticket.
type slot struct {
	n     *Node
	lease string
	ip    string
	// id is set once the session runs.
	id session.SessionID
	// leased says the cluster lease was taken in Redis (false when
	// admitted by the local fallback; the next heartbeat adds it).
	leased   bool
	released bool
	once     sync.Once
}

var _ session.Admitter = (*Node)(nil)

// Admit grants a cluster-wide slot for a session from ip
// (session.CarrierTraffic: no per-IP cap), or returns
// session.ErrSessionLimit or session.ErrIPLimit. With Redis unreachable it
// follows cluster.redis_unavailable.
func (n *Node) Admit(ip string) (session.Ticket, error) {
	lease, err := newLeaseID(n.cfg.NodeID)
	if err != nil {
		return nil, err
	}
	s := &slot{n: n, lease: lease, ip: ip}
	n.mu.Lock()
	up := n.up
	n.mu.Unlock()
	if up {
		res, err := n.runAdmit(s)
		switch {
		case err == nil && res == 0:
			s.leased = true
			n.add(s)
			n.met.admissions.WithLabelValues("admitted").Inc()
			return s, nil
		case err == nil && res == 1:
			n.met.admissions.WithLabelValues("session_limit").Inc()
			return nil, fmt.Errorf("cluster: %w (cluster.max_sessions %d)", session.ErrSessionLimit, n.cfg.MaxSessions)
		case err == nil:
			n.met.admissions.WithLabelValues("ip_limit").Inc()
			return nil, fmt.Errorf("cluster: %w (cluster.max_sessions_per_ip %d)", session.ErrIPLimit, n.cfg.MaxSessionsPerIP)
		}
		n.redisDown(err)
	}
	if n.cfg.RedisUnavailable == config.RedisUnavailableRefuse {
		n.met.admissions.WithLabelValues("refused_redis_unavailable").Inc()
		return nil, fmt.Errorf("cluster: %w: redis unreachable and cluster.redis_unavailable is refuse", session.ErrSessionLimit)
	}
	n.met.admissions.WithLabelValues("local_fallback").Inc()
	n.log.Debug("redis unreachable: admitted on this node's own caps (cluster.redis_unavailable: local)")
	n.add(s)
	return s, nil
}

func (n *Node) runAdmit(s *slot) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), redisCallTimeout)
	defer cancel()
	perIP, ipKey := "0", n.keys.leases()
	if s.ip != session.CarrierTraffic {
		perIP, ipKey = "1", n.keys.ip(s.ip)
	}
	res, err := n.admit.Run(ctx, n.client, []string{n.keys.leases(), ipKey},
		s.lease, n.ttlMillis(), n.cfg.MaxSessions, n.cfg.MaxSessionsPerIP, perIP).Int64()
	if err != nil {
		return 0, fmt.Errorf("cluster: admit: %w", err)
	}
	return res, nil
}

func (n *Node) add(s *slot) {
	n.mu.Lock()
	n.slots[s.lease] = s
	n.mu.Unlock()
}

// Started records the session in the session registry.
func (s *slot) Started(id session.SessionID) {
	n := s.n
	n.mu.Lock()
	s.id = id
	up := n.up
	n.mu.Unlock()
	if !up {
		return // the next successful heartbeat writes it
	}
	ctx, cancel := context.WithTimeout(context.Background(), redisCallTimeout)
	defer cancel()
	if err := n.client.Set(ctx, n.keys.session(string(id)), n.cfg.NodeID, n.cfg.NodeTTL).Err(); err != nil {
		n.redisDown(fmt.Errorf("cluster: register session: %w", err))
	}
}

// Release gives the lease back and removes the session's entry.
func (s *slot) Release() { s.release(context.Background()) }

func (s *slot) release(ctx context.Context) {
	s.once.Do(func() {
		n := s.n
		n.mu.Lock()
		s.released = true
		delete(n.slots, s.lease)
		n.mu.Unlock()
		n.removeSlot(ctx, s)
	})
}

// removeSlot deletes a released slot's lease and session entry. A failure
// is left to the TTL: the lease expires within node_ttl.
func (n *Node) removeSlot(ctx context.Context, s *slot) {
	ctx, cancel := context.WithTimeout(ctx, redisCallTimeout)
	defer cancel()
	ipKey, sessKey := n.keys.leases(), n.keys.leases()
	if s.ip != session.CarrierTraffic {
		ipKey = n.keys.ip(s.ip)
	}
	n.mu.Lock()
	id := s.id
	n.mu.Unlock()
	if id != "" {
		sessKey = n.keys.session(string(id))
	}
	if err := n.release.Run(ctx, n.client, []string{n.keys.leases(), ipKey, sessKey}, s.lease, n.cfg.NodeID).Err(); err != nil {
		n.redisDown(fmt.Errorf("cluster: release: %w", err))
	}
}

// SetDraining marks the node draining in the registry (at once: the next
// heartbeat is sent now).
func (n *Node) SetDraining() {
	n.mu.Lock()
	n.draining = true
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// Run beats every cluster.heartbeat_interval until ctx ends, then leaves
// the registry. Call Leave after the sessions ended to remove what is
// left.
func (n *Node) Run(ctx context.Context) error {
	n.heartbeat(ctx)
	t := time.NewTicker(n.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-n.wake:
		}
		n.heartbeat(ctx)
	}
}

// heartbeat writes the node's hash, refreshes its sessions and leases and
// records whether Redis answered.
func (n *Node) heartbeat(ctx context.Context) {
	n.mu.Lock()
	state := StateServing
	if n.draining {
		state = StateDraining
	}
	live := make([]*slot, 0, len(n.slots))
	args := []any{}
	running := 0
	for _, s := range n.slots {
		live = append(live, s)
		args = append(args, s.lease, s.ip, string(s.id))
		if s.id != "" {
			running++
		}
	}
	n.mu.Unlock()
	fields := []string{
		"id", n.cfg.NodeID, "url", n.cfg.AdvertiseURL, "state", state,
		"sessions", strconv.Itoa(running), "capacity", strconv.Itoa(n.capacity),
		"version", n.version, "started", n.started.UTC().Format(time.RFC3339),
	}
	argv := []any{n.cfg.NodeID, n.ttlMillis(), n.keys.prefix, len(fields) / 2}
	for _, f := range fields {
		argv = append(argv, f)
	}
	argv = append(argv, args...)
	cctx, cancel := context.WithTimeout(ctx, redisCallTimeout)
	defer cancel()
	nodes, err := n.beat.Run(cctx, n.client, []string{n.keys.nodes(), n.keys.node(n.cfg.NodeID), n.keys.leases()}, argv...).Int64()
	if err != nil {
		if ctx.Err() == nil {
			n.met.heartbeatFailures.Inc()
			n.redisDown(fmt.Errorf("cluster: heartbeat: %w", err))
		}
		return
	}
	n.met.nodes.Set(float64(nodes))
	n.redisUp()
	// A slot released while the beat was on its way was written again:
	// remove it once more.
	for _, s := range live {
		n.mu.Lock()
		gone := s.released
		n.mu.Unlock()
		if gone {
			n.removeSlot(ctx, s)
		}
	}
}

// Leave removes the node's registry entry and whatever leases it still
// holds (sessions that did not end).
func (n *Node) Leave(ctx context.Context) error {
	n.mu.Lock()
	left := make([]*slot, 0, len(n.slots))
	for _, s := range n.slots {
		left = append(left, s)
	}
	n.mu.Unlock()
	for _, s := range left {
		s.release(ctx)
	}
	cctx, cancel := context.WithTimeout(ctx, redisCallTimeout)
	defer cancel()
	if err := n.leave.Run(cctx, n.client, []string{n.keys.nodes(), n.keys.node(n.cfg.NodeID)}, n.cfg.NodeID).Err(); err != nil {
		return fmt.Errorf("cluster: leave: %w", err)
	}
	n.log.Info("left the cluster registry")
	return nil
}

// redisDown records a failed Redis call (logged once per outage).
func (n *Node) redisDown(err error) {
	n.mu.Lock()
	was := n.up
	n.up = false
	n.mu.Unlock()
	n.met.redisUp.Set(0)
	if was {
		n.log.Warn("redis unreachable: live sessions go on; new ones follow cluster.redis_unavailable",
			"policy", string(n.cfg.RedisUnavailable), "error", err)
	}
}

// redisUp records a successful heartbeat (logged when it ends an outage).
func (n *Node) redisUp() {
	n.mu.Lock()
	was := n.up
	n.up = true
	n.mu.Unlock()
	n.met.redisUp.Set(1)
	if !was {
		n.log.Info("redis reachable again: registry entries and leases restored")
	}
}

// RedisUp reports whether the last Redis call succeeded.
func (n *Node) RedisUp() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.up
}

func (n *Node) ttlMillis() int64 { return n.cfg.NodeTTL.Milliseconds() }

// newLeaseID is node/random: unique across the cluster, and says whose it is.
func newLeaseID(node string) (string, error) {
	var b [leaseIDBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("cluster: lease id: %w", err)
	}
	return node + "/" + hex.EncodeToString(b[:]), nil
}
