package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/cluster/clustertest"
)

// requireCluster makes a missing redis-server or haproxy a failure (make
// test sets it).
const requireCluster = "E2E_REQUIRE_CLUSTER"

// Cluster test settings: short heartbeats so that expiry is quick.
const (
	clusterSecret    = "e2e-cluster-DUMMY-secret-5c1f9a"
	clusterAdmin     = "admin-key-for-cluster-e2e"
	clusterNodes     = 3
	clusterMax       = 6
	clusterNodeTTL   = 1500 * time.Millisecond
	clusterHeartbeat = 250 * time.Millisecond
	// clusterConcurrent clients race for the slots left after one session
	// per node.
	clusterConcurrent = 18
	// shutdownDelay must outlast haproxy noticing /readyz (inter 200 ms,
	// fall 1).
	shutdownDelay = 1500 * time.Millisecond
	// expirySlack is what observing the expiry may add to node_ttl: the
	// poll interval and one admission (a WebSocket upgrade) under make
	// test's load. The expiry itself is Redis's, node_ttl after the dead
	// node's last heartbeat (which came before the kill).
	expirySlack = time.Second
	// readyzAtOnce bounds the signal's delivery and one probe.
	readyzAtOnce = time.Second
)

// clusterNodeConfig is one node's layer; %s are its id, port, redis
// address and redis_unavailable policy.
const clusterNodeConfig = `
http:
  drain_timeout: 30s
  shutdown_delay: 1500ms
  drain_mode: wait
session:
  max_sessions: 50
  max_sessions_per_ip: 50
rate_limit:
  enabled: false
auth:
  admin_keys: [` + clusterAdmin + `]
webrtc:
  include_loopback: true
  interfaces: [lo]
redis:
  addr: %[3]s
  key_prefix: "e2e:"
cluster:
  enabled: true
  node_id: %[1]s
  advertise_url: http://127.0.0.1:%[2]d
  heartbeat_interval: 250ms
  node_ttl: 1500ms
  max_sessions: 6
  redis_unavailable: %[4]s
plugins:
  health_interval: 1s
  instances:
` + simPipeline

// haproxyConfig round-robins HTTP and WebSockets over the nodes and takes
// a node out when its /readyz is not 200.
const haproxyConfig = `
global
  maxconn 512
defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  timeout tunnel 60s
  retries 2
  option redispatch
frontend stats
  bind 127.0.0.1:%d
  stats enable
  stats uri /stats
frontend parley
  bind 127.0.0.1:%d
  default_backend nodes
backend nodes
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 200ms fall 1 rise 2
%s`

type clusterNode struct {
	id   string
	port int
	srv  *server
}

func (n *clusterNode) base() string { return "http://127.0.0.1:" + strconv.Itoa(n.port) }

// TestClusterThreeNodes is issue 15's multi-node test: a real
// redis-server, three real Parley processes and a real haproxy
// (round-robin) in front, all on loopback.
func TestClusterThreeNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs three servers, redis-server and haproxy")
	}
	haproxy := clustertest.Need(t, "haproxy", requireCluster)
	rds := clustertest.StartRedis(t, requireCluster)
	bin := bins.get(t)
	start := time.Now()

	nodes := make([]*clusterNode, clusterNodes)
	var servers strings.Builder
	for i := range nodes {
		nodes[i] = &clusterNode{id: fmt.Sprintf("node%d", i+1), port: clustertest.FreePort(t)}
		fmt.Fprintf(&servers, "  server %s 127.0.0.1:%d check\n", nodes[i].id, nodes[i].port)
	}
	var wg sync.WaitGroup
	for i, n := range nodes {
		policy := "local"
		if i == clusterNodes-1 {
			policy = "refuse"
		}
		wg.Go(func() {
			n.srv = startServerWith(t, bin, fmt.Sprintf(clusterNodeConfig, n.id, n.port, rds.Addr(), policy),
				"PARLEY_HTTP__ADDR=127.0.0.1:"+strconv.Itoa(n.port), "PARLEY_CLUSTER_SECRET="+clusterSecret)
		})
	}
	wg.Wait()
	for _, n := range nodes {
		require.NotNil(t, n.srv, "every node started")
	}
	lbPort, statsPort := clustertest.FreePort(t), clustertest.FreePort(t)
	lb := "127.0.0.1:" + strconv.Itoa(lbPort)
	startHAProxy(t, haproxy, fmt.Sprintf(haproxyConfig, statsPort, lbPort, servers.String()))
	waitBackendsUp(t, statsPort, clusterNodes)
	waitNodes(t, nodes[0].base(), clusterNodes)
	t.Logf("cluster up in %s", time.Since(start).Round(time.Millisecond))
	ctx := t.Context()

	// Spread: one session per node first, dialled one after the other
	// through the round-robin balancer (in the race below, every winner
	// may come through two of the nodes). Then exact caps: many clients
	// race through the balancer for the remaining cluster.max_sessions
	// slots.
	var talkers []*talker
	for range nodes {
		tk, status, err := dialVoiceStatus(ctx, lb)
		require.NoError(t, err, "dial through haproxy: %d", status)
		talkers = append(talkers, tk)
	}
	var mu sync.Mutex
	var refused, other atomic.Int64
	for range clusterConcurrent {
		wg.Go(func() {
			tk, status, err := dialVoiceStatus(ctx, lb)
			switch {
			case err == nil:
				mu.Lock()
				talkers = append(talkers, tk)
				mu.Unlock()
			case status == http.StatusServiceUnavailable:
				refused.Add(1)
			default:
				other.Add(1)
				t.Errorf("dial through haproxy: %d %v", status, err)
			}
		})
	}
	wg.Wait()
	require.Len(t, talkers, clusterMax, "exactly cluster.max_sessions admitted")
	assert.Equal(t, int64(clusterConcurrent-(clusterMax-len(nodes))), refused.Load(), "the rest refused with 503 session_limit")
	list := sessions(t, lb)
	assert.False(t, list.Partial)
	require.Len(t, list.Sessions, clusterMax, "GET /v1/sessions through any node lists the whole cluster")
	perNode := map[string]int{}
	for _, s := range list.Sessions {
		perNode[s.Node]++
	}
	for _, n := range nodes {
		assert.Positive(t, perNode[n.id], "sessions spread over every node: %v", perNode)
	}
	for _, n := range nodes {
		assert.Len(t, sessions(t, n.base()).Sessions, clusterMax, "every node lists all (%s)", n.id)
	}
	closeAll(talkers)
	waitSessions(t, lb, 0)

	// WebRTC trickle PATCH and DELETE reach the owner from any node.
	id, owner := offerThrough(t, lb)
	for _, n := range nodes {
		status, hdr := patchCandidate(t, n.base(), id)
		assert.Equal(t, http.StatusNoContent, status, "PATCH via %s", n.id)
		assert.Equal(t, owner, hdr.Get("X-Parley-Node"), "answered by the owner")
	}
	var via *clusterNode
	for _, n := range nodes {
		if n.id != owner {
			via = n
			break
		}
	}
	status, _, _ := call(t, http.MethodDelete, via.base()+"/v1/webrtc/sessions/"+id, "", "")
	assert.Equal(t, http.StatusNoContent, status, "DELETE via %s reaches %s", via.id, owner)
	waitSessions(t, lb, 0)
	status, _ = patchCandidate(t, via.base(), id)
	assert.Equal(t, http.StatusNotFound, status, "an id no node holds is 404")
	status, _, _ = call(t, http.MethodGet, via.base()+"/v1/sessions/sess_000000000000000000000000", clusterAdmin, "")
	assert.Equal(t, http.StatusNotFound, status)

	// Redis stopped mid-run: live calls go on; admission follows each
	// node's policy; recovery is automatic when Redis returns.
	live := make([]*talker, 0, clusterNodes)
	for _, n := range nodes {
		tk, _, err := dialVoiceStatus(ctx, "127.0.0.1:"+strconv.Itoa(n.port))
		require.NoError(t, err)
		live = append(live, tk)
	}
	rds.Stop()
	samples := utterance()
	turnAll(t, live, samples, "while Redis is down")
	require.Eventually(t, func() bool {
		return metric(t, nodes[0].base(), "parley_cluster_redis_up") == 0 && metric(t, nodes[2].base(), "parley_cluster_redis_up") == 0
	}, 5*time.Second, 50*time.Millisecond)
	fallback, _, err := dialVoiceStatus(ctx, "127.0.0.1:"+strconv.Itoa(nodes[0].port))
	require.NoError(t, err, "redis_unavailable: local admits on the node's own caps")
	_, status, err = dialVoiceStatus(ctx, "127.0.0.1:"+strconv.Itoa(nodes[2].port))
	require.Error(t, err)
	assert.Equal(t, http.StatusServiceUnavailable, status, "redis_unavailable: refuse refuses")
	assert.Positive(t, metric(t, nodes[0].base(), `parley_cluster_admissions_total{result="local_fallback"}`))
	rds.Start()
	require.Eventually(t, func() bool {
		for _, n := range nodes {
			if metric(t, n.base(), "parley_cluster_redis_up") != 1 {
				return false
			}
		}
		return true
	}, 5*time.Second, 50*time.Millisecond, "every node reconnects by itself")
	waitNodes(t, nodes[0].base(), clusterNodes)
	waitSessions(t, lb, clusterNodes+1)
	tk, _, err := dialVoiceStatus(ctx, "127.0.0.1:"+strconv.Itoa(nodes[2].port))
	require.NoError(t, err, "admission through Redis again")
	closeAll(append(live, fallback, tk))
	waitSessions(t, lb, 0)

	// SIGTERM during a live call: /readyz 503 at once, the call finishes,
	// new calls go elsewhere, haproxy returns no error.
	call1, _, err := dialVoiceStatus(ctx, "127.0.0.1:"+strconv.Itoa(nodes[0].port))
	require.NoError(t, err)
	require.NoError(t, nodes[0].srv.cmd.Process.Signal(syscall.SIGTERM))
	sigterm := time.Now()
	require.Eventually(t, func() bool {
		status, _, _ := call(t, http.MethodGet, nodes[0].base()+"/readyz", "", "")
		return status == http.StatusServiceUnavailable
	}, readyzAtOnce, 10*time.Millisecond, "/readyz turns 503 at once")
	require.Eventually(t, func() bool {
		for _, n := range clusterNodeList(t, nodes[1].base()) {
			if n.ID == nodes[0].id {
				return n.State == "draining"
			}
		}
		return false
	}, 2*time.Second, 25*time.Millisecond, "registered as draining")
	lbErrs := make(chan error, 64)
	stopNew := make(chan struct{})
	var newCalls sync.WaitGroup
	newCalls.Go(func() { newCallsThrough(ctx, lb, stopNew, lbErrs) })
	tr, err := call1.turn(ctx, samples)
	require.NoError(t, err, "the call goes on through shutdown_delay and the drain")
	assert.NotEmpty(t, tr.finals)
	assert.Greater(t, time.Since(sigterm), shutdownDelay, "its turn outlasted shutdown_delay")
	require.NoError(t, call1.c.Close(websocket.StatusNormalClosure, "bye"))
	select {
	case <-nodes[0].srv.exited:
	case <-time.After(stopLimit):
		t.Fatal("the draining node did not exit once its last call ended")
	}
	require.NoError(t, nodes[0].srv.stop(), "exit 0 after the drain")
	close(stopNew)
	newCalls.Wait()
	close(lbErrs)
	for err := range lbErrs {
		t.Errorf("through haproxy during the drain: %v", err)
	}
	ids := nodeIDs(clusterNodeList(t, nodes[1].base()))
	assert.Equal(t, []string{nodes[1].id, nodes[2].id}, ids, "the drained node left the registry at once")
	assert.Contains(t, nodes[0].srv.logs.String(), "every session ended by itself")
	assert.NotContains(t, nodes[0].srv.logs.String(), `"code":"draining"`,
		"haproxy sent no new call to the node once it stopped admitting")
	assert.Contains(t, nodes[1].srv.logs.String()+nodes[2].srv.logs.String(), `"msg":"session started"`)

	// SIGKILL: the dead node's entries and leases expire within node_ttl.
	doomed := make([]*talker, 0, clusterMax-1)
	for range clusterMax - 1 {
		tk, _, err := dialVoiceStatus(ctx, "127.0.0.1:"+strconv.Itoa(nodes[1].port))
		require.NoError(t, err)
		doomed = append(doomed, tk)
	}
	keeper, _, err := dialVoiceStatus(ctx, "127.0.0.1:"+strconv.Itoa(nodes[2].port))
	require.NoError(t, err)
	_, status, err = dialVoiceStatus(ctx, "127.0.0.1:"+strconv.Itoa(nodes[2].port))
	require.Error(t, err)
	require.Equal(t, http.StatusServiceUnavailable, status, "at the cluster cap")
	require.NoError(t, nodes[1].srv.cmd.Process.Kill())
	killed := time.Now()
	var again *talker
	require.Eventually(t, func() bool {
		tk, _, err := dialVoiceStatus(ctx, "127.0.0.1:"+strconv.Itoa(nodes[2].port))
		if err != nil {
			return false
		}
		again = tk
		return true
	}, clusterNodeTTL+expirySlack+time.Second, 50*time.Millisecond, "the dead node's leases expire")
	expired := time.Since(killed)
	assert.Less(t, expired, clusterNodeTTL+expirySlack, "leases expired within node_ttl (took %s)", expired)
	assert.Equal(t, []string{nodes[2].id}, nodeIDs(clusterNodeList(t, nodes[2].base())), "the dead node's entry expired")
	tr, err = keeper.turn(ctx, samples)
	require.NoError(t, err, "the surviving node keeps serving")
	assert.NotEmpty(t, tr.finals)
	list = sessions(t, lb)
	assert.Len(t, list.Sessions, 2, "only the survivor's sessions are listed")
	for _, tk := range doomed {
		_ = tk.c.CloseNow()
	}
	closeAll([]*talker{keeper, again})
	t.Logf("expiry after SIGKILL %s; whole test %s", expired.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// startHAProxy runs haproxy in the foreground on cfg until the test ends.
func startHAProxy(t *testing.T, bin, cfg string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	check := exec.Command(bin, "-c", "-f", path)
	out, err := check.CombinedOutput()
	require.NoError(t, err, "haproxy -c: %s", out)
	cmd := exec.Command(bin, "-db", "-f", path)
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("haproxy:\n%s", logs.String())
		}
	})
}

// waitBackendsUp waits until haproxy's stats page shows n servers UP.
func waitBackendsUp(t *testing.T, statsPort, n int) {
	t.Helper()
	url := "http://127.0.0.1:" + strconv.Itoa(statsPort) + "/stats;csv"
	require.Eventually(t, func() bool {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
		if err != nil {
			return false
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		up := 0
		for line := range strings.Lines(string(body)) {
			f := strings.Split(line, ",")
			if len(f) > 17 && f[0] == "nodes" && f[1] != "BACKEND" && f[17] == "UP" {
				up++
			}
		}
		return up == n
	}, 10*time.Second, 25*time.Millisecond, "haproxy never saw %d nodes up", n)
}

// dialVoiceStatus opens a parley.v1 session at addr; on a refused
// upgrade it returns the HTTP status.
func dialVoiceStatus(ctx context.Context, addr string) (*talker, int, error) {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(dctx, "ws://"+addr+"/ws/voice", &websocket.DialOptions{Subprotocols: []string{"parley.v1"}})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		return nil, status, err
	}
	tk, err := startTalker(ctx, c)
	return tk, 0, err
}

func closeAll(ts []*talker) {
	for _, tk := range ts {
		_ = tk.c.Close(websocket.StatusNormalClosure, "done")
	}
}

// turnAll has every talker speak one turn at once.
func turnAll(t *testing.T, ts []*talker, samples []int16, when string) {
	t.Helper()
	errs := make([]error, len(ts))
	finals := make([]int, len(ts))
	var wg sync.WaitGroup
	for i, tk := range ts {
		wg.Go(func() {
			tr, err := tk.turn(t.Context(), samples)
			errs[i], finals[i] = err, len(tr.finals)
		})
	}
	wg.Wait()
	for i := range ts {
		require.NoError(t, errs[i], "call %d %s", i, when)
		assert.Positive(t, finals[i], "call %d heard %s", i, when)
	}
}

// newCallsThrough opens and closes calls through the balancer until stop,
// reporting every one that failed.
func newCallsThrough(ctx context.Context, lb string, stop <-chan struct{}, errs chan<- error) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		tk, status, err := dialVoiceStatus(ctx, lb)
		if err != nil {
			select {
			case errs <- fmt.Errorf("new call: %d %w", status, err):
			default:
			}
			continue
		}
		_ = tk.c.Close(websocket.StatusNormalClosure, "done")
	}
}

type clusterSession struct {
	ID   string `json:"id"`
	Node string `json:"node"`
}

type clusterSessions struct {
	Sessions []clusterSession `json:"sessions"`
	Partial  bool             `json:"partial"`
}

func sessions(t *testing.T, base string) clusterSessions {
	t.Helper()
	if !strings.HasPrefix(base, "http") {
		base = "http://" + base
	}
	status, _, body := call(t, http.MethodGet, base+"/v1/sessions", clusterAdmin, "")
	require.Equal(t, http.StatusOK, status, string(body))
	var out clusterSessions
	require.NoError(t, json.Unmarshal(body, &out))
	return out
}

func waitSessions(t *testing.T, base string, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		got := sessions(t, base)
		return !got.Partial && len(got.Sessions) == n
	}, 10*time.Second, 50*time.Millisecond, "waiting for %d sessions cluster-wide", n)
}

type clusterNodeInfo struct {
	ID    string `json:"id"`
	State string `json:"state"`
}

func clusterNodeList(t *testing.T, base string) []clusterNodeInfo {
	t.Helper()
	status, _, body := call(t, http.MethodGet, base+"/v1/cluster/nodes", clusterAdmin, "")
	require.Equal(t, http.StatusOK, status, string(body))
	var out struct {
		Nodes []clusterNodeInfo `json:"nodes"`
	}
	require.NoError(t, json.Unmarshal(body, &out))
	return out.Nodes
}

func nodeIDs(ns []clusterNodeInfo) []string {
	out := make([]string, 0, len(ns))
	for _, n := range ns {
		out = append(out, n.ID)
	}
	return out
}

func waitNodes(t *testing.T, base string, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return len(clusterNodeList(t, base)) == n }, 10*time.Second, 50*time.Millisecond)
}

// metric reads one sample (name with its labels, as exposed) from /metrics.
func metric(t *testing.T, base, sample string) float64 {
	t.Helper()
	status, _, body := call(t, http.MethodGet, base+"/metrics", "", "")
	require.Equal(t, http.StatusOK, status)
	for line := range strings.Lines(string(body)) {
		if rest, ok := strings.CutPrefix(line, sample+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			require.NoError(t, err)
			return v
		}
	}
	return -1
}

// offerThrough posts a real pion offer through the balancer and returns
// the session id and the node that holds it.
func offerThrough(t *testing.T, lb string) (id, owner string) {
	t.Helper()
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = pc.Close() })
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", "client")
	require.NoError(t, err)
	_, err = pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv})
	require.NoError(t, err)
	_, err = pc.CreateDataChannel("events", nil)
	require.NoError(t, err)
	offer, err := pc.CreateOffer(nil)
	require.NoError(t, err)
	require.NoError(t, pc.SetLocalDescription(offer))
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+lb+"/v1/webrtc/offer", strings.NewReader(offer.SDP))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/sdp")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(body))
	id = resp.Header.Get("X-Session-Id")
	require.NotEmpty(t, id)
	for _, s := range sessions(t, lb).Sessions {
		if s.ID == id {
			owner = s.Node
		}
	}
	require.NotEmpty(t, owner, "the WebRTC session is listed with its node")
	return id, owner
}

// patchCandidate sends one trickled host candidate for session id to base.
func patchCandidate(t *testing.T, base, id string) (int, http.Header) {
	t.Helper()
	frag := "a=mid:0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host\r\n"
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPatch, base+"/v1/webrtc/sessions/"+id, strings.NewReader(frag))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/trickle-ice-sdpfrag")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, resp.Header
}

// drainConfig drains the way a rolling deploy does, with short bounds.
const drainConfig = `
http:
  shutdown_delay: 3s
  drain_mode: wait
  drain_timeout: 2s
session:
  max_sessions: 20
  max_sessions_per_ip: 20
rate_limit:
  enabled: false
plugins:
  instances:
` + simPipeline

// TestDrainWaitTimeout: SIGTERM with http.drain_mode wait on one node
// (no cluster): /readyz 503 at once while new sessions are still admitted
// for shutdown_delay, then refused (503 draining); a call still running at
// drain_timeout ends with the documented close (1001 "server shutting
// down"), and the server exits 0.
func TestDrainWaitTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs the server and plugins")
	}
	srv := startServerWith(t, bins.get(t), drainConfig)
	ctx := t.Context()
	idle, _, err := dialVoiceStatus(ctx, srv.addr)
	require.NoError(t, err)
	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGTERM))
	require.Eventually(t, func() bool {
		status, _, _ := call(t, http.MethodGet, "http://"+srv.addr+"/readyz", "", "")
		return status == http.StatusServiceUnavailable
	}, readyzAtOnce, 10*time.Millisecond, "/readyz turns 503 at once")
	late, _, err := dialVoiceStatus(ctx, srv.addr)
	require.NoError(t, err, "still admitting during shutdown_delay")
	require.NoError(t, late.c.Close(websocket.StatusNormalClosure, "done"))
	require.Eventually(t, func() bool {
		tk, status, err := dialVoiceStatus(ctx, srv.addr)
		if err == nil {
			_ = tk.c.Close(websocket.StatusNormalClosure, "done")
			return false
		}
		return status == http.StatusServiceUnavailable
	}, 5*time.Second, 50*time.Millisecond, "refused once shutdown_delay passed")
	select {
	case err := <-idle.readErr:
		assert.Equal(t, websocket.StatusGoingAway, websocket.CloseStatus(err), "%v", err)
		var ce websocket.CloseError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, "server shutting down", ce.Reason)
	case <-time.After(stopLimit):
		t.Fatal("the live call was not ended at drain_timeout")
	}
	select {
	case <-srv.exited:
	case <-time.After(stopLimit):
		t.Fatal("the server did not exit after the drain")
	}
	require.NoError(t, srv.stop(), "exit 0")
	assert.Contains(t, srv.logs.String(), "drain timeout reached")
	assert.Contains(t, srv.logs.String(), `"code":"draining"`)
}

// simPipeline is the plugin list and pipeline of the cluster tests' nodes:
// the simulated STT and LLM, the real flite TTS.
const simPipeline = `    - name: stt-sim
      kind: stt
      path: ./bin/plugins/simplugin
      args: ["-kind", "stt"]
    - name: llm-sim
      kind: llm
      path: ./bin/plugins/simplugin
      args: ["-kind", "llm"]
    - name: tts-flite
      kind: tts
      path: ./bin/plugins/tts-flite
      config: {voice: slt}
pipeline:
  stt: [stt-sim]
  llm: [llm-sim]
  tts: [tts-flite]
`
