package cluster

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/parleyhq/parley/server/internal/cluster/clustertest"
	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/session"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).reaper"))
}

const testSecret = "0123456789abcdef-test-secret"

// requireRedis makes a missing redis-server a failure in make test.
const requireRedis = "E2E_REQUIRE_CLUSTER"

func startRedis(t *testing.T) *clustertest.Redis { return clustertest.StartRedis(t, requireRedis) }

func client(t *testing.T, r *clustertest.Redis) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: r.Addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func testConfig(id string) config.Cluster {
	return config.Cluster{
		Enabled: true, NodeID: id, AdvertiseURL: "http://127.0.0.1:1",
		HeartbeatInterval: 50 * time.Millisecond, NodeTTL: 400 * time.Millisecond,
		Secret: []byte(testSecret), RedisUnavailable: config.RedisUnavailableLocal,
	}
}

func newNode(t *testing.T, r *clustertest.Redis, cfg config.Cluster) (*Node, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	n, err := New(cfg, "test:", client(t, r), 10, "test", reg, nil)
	require.NoError(t, err)
	return n, reg
}

// run starts n's heartbeat until the test ends or stop is called.
func run(t *testing.T, n *Node) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = n.Run(ctx)
	}()
	stop = func() {
		cancel()
		<-done
	}
	t.Cleanup(stop)
	return stop
}

// TestAdmitCapsHoldUnderConcurrency: two nodes, 40 concurrent admissions
// against cluster.max_sessions 5 → exactly 5; releasing one frees one.
func TestAdmitCapsHoldUnderConcurrency(t *testing.T) {
	r := startRedis(t)
	cfg := testConfig("a")
	cfg.MaxSessions = 5
	a, _ := newNode(t, r, cfg)
	cfg.NodeID = "b"
	b, _ := newNode(t, r, cfg)

	var admitted atomic.Int64
	var mu sync.Mutex
	var tickets []session.Ticket
	var wg sync.WaitGroup
	for i := range 40 {
		n := a
		if i%2 == 1 {
			n = b
		}
		wg.Go(func() {
			tk, err := n.Admit("10.0.0." + strconv.Itoa(i))
			if err != nil {
				assert.ErrorIs(t, err, session.ErrSessionLimit)
				return
			}
			admitted.Add(1)
			mu.Lock()
			tickets = append(tickets, tk)
			mu.Unlock()
		})
	}
	wg.Wait()
	assert.Equal(t, int64(5), admitted.Load())
	_, err := a.Admit("10.9.9.9")
	require.ErrorIs(t, err, session.ErrSessionLimit)
	tickets[0].Release()
	tk, err := b.Admit("10.9.9.9")
	require.NoError(t, err, "a released lease frees its slot at once")
	tk.Release()
	for _, tk := range tickets[1:] {
		tk.Release()
	}
}

func TestAdmitPerIPCap(t *testing.T) {
	r := startRedis(t)
	cfg := testConfig("a")
	cfg.MaxSessionsPerIP = 2
	a, _ := newNode(t, r, cfg)
	t1, err := a.Admit("10.0.0.1")
	require.NoError(t, err)
	t2, err := a.Admit("10.0.0.1")
	require.NoError(t, err)
	_, err = a.Admit("10.0.0.1")
	require.ErrorIs(t, err, session.ErrIPLimit)
	t3, err := a.Admit("10.0.0.2")
	require.NoError(t, err, "another IP has its own cap")
	t4, err := a.Admit(session.CarrierTraffic)
	require.NoError(t, err, "carrier traffic has no per-IP cap")
	for _, tk := range []session.Ticket{t1, t2, t3, t4} {
		tk.Release()
	}
}

// TestDeadNodeExpires: a node that stops beating loses its registry entry,
// its session entries and its leases within node_ttl.
func TestDeadNodeExpires(t *testing.T) {
	r := startRedis(t)
	cfg := testConfig("a")
	cfg.MaxSessions = 1
	a, _ := newNode(t, r, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = a.Run(ctx)
	}()
	tk, err := a.Admit("10.0.0.1")
	require.NoError(t, err)
	tk.Started("sess_000000000000000000000001")

	cfg.NodeID = "b"
	b, _ := newNode(t, r, cfg)
	run(t, b)
	_, err = b.Admit("10.0.0.2")
	require.ErrorIs(t, err, session.ErrSessionLimit, "a's lease counts while a beats")
	require.Eventually(t, func() bool {
		nodes, err := b.Nodes(context.Background())
		return err == nil && len(nodes) == 2
	}, 2*time.Second, 20*time.Millisecond)

	cancel() // a dies without leaving
	<-done
	died := time.Now()
	require.Eventually(t, func() bool {
		tk, err := b.Admit("10.0.0.2")
		if err != nil {
			return false
		}
		tk.Release()
		return true
	}, 2*time.Second, 20*time.Millisecond)
	assert.Less(t, time.Since(died), cfg.NodeTTL+300*time.Millisecond, "expired within node_ttl")
	nodes, err := b.Nodes(context.Background())
	require.NoError(t, err)
	require.Len(t, nodes, 1)
	assert.Equal(t, "b", nodes[0].ID)
	_, err = client(t, r).Get(context.Background(), "test:cluster:session:sess_000000000000000000000001").Result()
	assert.ErrorIs(t, err, redis.Nil, "the dead node's session entry expired")
}

// TestRedisOutage: live slots survive, admissions follow the policy and
// are counted, and the next heartbeat after Redis returns restores every
// lease and session entry.
func TestRedisOutage(t *testing.T) {
	for _, policy := range []config.RedisUnavailable{config.RedisUnavailableLocal, config.RedisUnavailableRefuse} {
		t.Run(string(policy), func(t *testing.T) {
			r := startRedis(t)
			cfg := testConfig("a")
			cfg.RedisUnavailable = policy
			a, reg := newNode(t, r, cfg)
			run(t, a)
			live, err := a.Admit("10.0.0.1")
			require.NoError(t, err)
			live.Started("sess_000000000000000000000002")

			r.Stop()
			require.Eventually(t, func() bool { return !a.RedisUp() }, 2*time.Second, 10*time.Millisecond)
			assert.Equal(t, 0.0, testutil.ToFloat64(a.met.redisUp))
			tk, err := a.Admit("10.0.0.3")
			if policy == config.RedisUnavailableRefuse {
				require.ErrorIs(t, err, session.ErrSessionLimit)
				assert.Equal(t, 1.0, testutil.ToFloat64(a.met.admissions.WithLabelValues("refused_redis_unavailable")))
			} else {
				require.NoError(t, err)
				tk.Started("sess_000000000000000000000003")
				assert.Equal(t, 1.0, testutil.ToFloat64(a.met.admissions.WithLabelValues("local_fallback")))
			}

			r.Start() // empty: every entry is gone
			require.Eventually(t, func() bool { return a.RedisUp() }, 3*time.Second, 10*time.Millisecond)
			c := client(t, r)
			require.Eventually(t, func() bool {
				owner, err := c.Get(context.Background(), "test:cluster:session:sess_000000000000000000000002").Result()
				return err == nil && owner == "a"
			}, 2*time.Second, 10*time.Millisecond, "the live session's entry is back")
			want := int64(1)
			if policy == config.RedisUnavailableLocal {
				want = 2
				owner, err := c.Get(context.Background(), "test:cluster:session:sess_000000000000000000000003").Result()
				require.NoError(t, err)
				assert.Equal(t, "a", owner, "a session admitted locally is registered on recovery")
			}
			n, err := c.ZCard(context.Background(), "test:cluster:leases").Result()
			require.NoError(t, err)
			assert.Equal(t, want, n, "leases restored")
			_, err = a.Admit("10.0.0.4")
			require.NoError(t, err, "admission works again")
			_ = reg
		})
	}
}

// TestForward: a request for a session on another node is proxied there
// with the secret; an unknown id falls through to the local 404; a bad
// secret is refused; a forwarded request is never forwarded again.
func TestForward(t *testing.T) {
	r := startRedis(t)
	var hits [2]atomic.Int64
	var srvs [2]*httptest.Server
	var nodes [2]*Node
	for i, id := range []string{"a", "b"} {
		mux := chi.NewRouter()
		idx := i
		srvs[i] = httptest.NewServer(mux)
		t.Cleanup(srvs[i].Close)
		cfg := testConfig(id)
		cfg.AdvertiseURL = srvs[i].URL
		nodes[i], _ = newNode(t, r, cfg)
		local := func(sid string) bool { return idx == 0 && sid == "sess_000000000000000000000009" }
		mux.With(nodes[i].Forward(local)).Patch("/v1/webrtc/sessions/{id}", func(w http.ResponseWriter, r *http.Request) {
			hits[idx].Add(1)
			if !local(chi.URLParam(r, "id")) {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			assert.Equal(t, "Bearer client-key", r.Header.Get("Authorization"), "the client's credentials travel along")
			w.WriteHeader(http.StatusNoContent)
		})
		run(t, nodes[i])
	}
	tk, err := nodes[0].Admit("10.0.0.1")
	require.NoError(t, err)
	tk.Started("sess_000000000000000000000009")
	defer tk.Release()

	patch := func(base, id string, hdr map[string]string) *http.Response {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPatch, base+"/v1/webrtc/sessions/"+id, strings.NewReader("a=x"))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer client-key")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		return resp
	}
	resp := patch(srvs[1].URL, "sess_000000000000000000000009", nil)
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	assert.Equal(t, "a", resp.Header.Get(HeaderServedBy), "served by the owner")
	assert.Equal(t, int64(1), hits[0].Load())
	assert.Equal(t, int64(0), hits[1].Load())

	resp = patch(srvs[1].URL, "sess_00000000000000000000000f", nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "no node holds it")
	assert.Equal(t, "b", resp.Header.Get(HeaderServedBy))

	resp = patch(srvs[1].URL, "sess_000000000000000000000009", map[string]string{HeaderNodeSecret: "wrong-secret-wrong-secret"})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)

	resp = patch(srvs[1].URL, "sess_000000000000000000000009", map[string]string{HeaderNodeSecret: testSecret})
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "a forwarded request is served where it lands")
	assert.Equal(t, int64(1), hits[0].Load())

	tk.Release()
	resp = patch(srvs[1].URL, "sess_000000000000000000000009", nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "an ended session's entry is gone")
}

// TestLeaveAndDraining: the registry shows a draining node's state, and
// Leave removes it at once.
func TestLeaveAndDraining(t *testing.T) {
	r := startRedis(t)
	a, _ := newNode(t, r, testConfig("a"))
	stop := run(t, a)
	a.SetDraining()
	require.Eventually(t, func() bool {
		nodes, err := a.Nodes(context.Background())
		return err == nil && len(nodes) == 1 && nodes[0].State == StateDraining && nodes[0].Self
	}, 2*time.Second, 10*time.Millisecond)
	stop()
	require.NoError(t, a.Leave(context.Background()))
	nodes, err := a.Nodes(context.Background())
	require.NoError(t, err)
	assert.Empty(t, nodes)
}
