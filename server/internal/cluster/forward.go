package cluster

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/redis/go-redis/v9"

	"github.com/parleyhq/parley/server/internal/httpapi"
)

// Node-to-node headers.
const (
	// HeaderNodeSecret carries the shared secret (cluster.secret_env) on
	// a request one node sends another: it marks the request as
	// forwarded, and a forwarded request is served where it lands.
	HeaderNodeSecret = "X-Parley-Cluster-Secret"
	// HeaderForwardedBy names the node that forwarded the request.
	HeaderForwardedBy = "X-Parley-Forwarded-By"
	// HeaderServedBy names the node that served a per-session request
	// (set on every answer of a forwarded or local per-session route).
	HeaderServedBy = "X-Parley-Node"
)

// API codes.
const (
	codeClusterUnavailable = "cluster_unavailable"
	codeNodeUnreachable    = "node_unreachable"
	codeBadNodeSecret      = "forbidden"
	// fanOutTimeout bounds a node-to-node list call.
	fanOutTimeout = 5 * time.Second
	// maxNodeBody bounds what a node reads back from another.
	maxNodeBody = 8 << 20
)

// Local reports whether a session id runs on this node.
type Local func(id string) bool

// Forwarded reports whether r came from another node with the right
// secret (compared in constant time).
func (n *Node) Forwarded(r *http.Request) bool {
	got := r.Header.Get(HeaderNodeSecret)
	return got != "" && subtle.ConstantTimeCompare([]byte(got), n.cfg.Secret) == 1
}

// Forward is middleware for routes with an {id} URL parameter naming a
// session: a session that runs here, or a request another node forwarded,
// is served here; a session the registry places on another live node is
// proxied to it (httputil.ReverseProxy, with the shared secret); an id no
// node holds falls through to the local handler, which answers 404.
func (n *Node) Forward(local Local) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := chi.URLParam(r, "id")
			if r.Header.Get(HeaderNodeSecret) != "" && !n.Forwarded(r) {
				httpapi.WriteError(w, http.StatusForbidden, codeBadNodeSecret, "bad node-to-node secret", nil)
				return
			}
			if id == "" || local(id) || n.Forwarded(r) {
				w.Header().Set(HeaderServedBy, n.cfg.NodeID)
				next.ServeHTTP(w, r)
				return
			}
			target, err := n.ownerURL(r.Context(), id)
			switch {
			case errors.Is(err, errNoOwner):
				w.Header().Set(HeaderServedBy, n.cfg.NodeID)
				next.ServeHTTP(w, r)
				return
			case err != nil:
				n.met.forwarded.WithLabelValues("registry_unavailable").Inc()
				n.redisDown(err)
				httpapi.WriteError(w, http.StatusServiceUnavailable, codeClusterUnavailable,
					"the session registry is unreachable; try again", map[string]string{"session_id": id})
				return
			}
			n.proxy(target).ServeHTTP(w, r)
		})
	}
}

var errNoOwner = errors.New("cluster: no node holds this session")

// ownerURL is the base URL of the live node that holds session id, or
// errNoOwner (no entry, this node, or a node that is gone).
func (n *Node) ownerURL(ctx context.Context, id string) (*url.URL, error) {
	cctx, cancel := context.WithTimeout(ctx, redisCallTimeout)
	defer cancel()
	owner, err := n.client.Get(cctx, n.keys.session(id)).Result()
	if errors.Is(err, redis.Nil) || (err == nil && owner == n.cfg.NodeID) {
		return nil, errNoOwner
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: session owner: %w", err)
	}
	raw, err := n.client.HGet(cctx, n.keys.node(owner), "url").Result()
	if errors.Is(err, redis.Nil) {
		return nil, errNoOwner
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: owner url: %w", err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("cluster: owner url %q: %w", raw, err)
	}
	return u, nil
}

// proxy forwards to target with the node secret.
func (n *Node) proxy(target *url.URL) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
			pr.Out.Host = pr.In.Host
			pr.Out.Header.Set(HeaderNodeSecret, string(n.cfg.Secret))
			pr.Out.Header.Set(HeaderForwardedBy, n.cfg.NodeID)
		},
		ModifyResponse: func(*http.Response) error {
			n.met.forwarded.WithLabelValues("ok").Inc()
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			n.met.forwarded.WithLabelValues("owner_unreachable").Inc()
			n.log.Warn("forwarding to the session's node failed", "target", target.Host, "error", err)
			httpapi.WriteError(w, http.StatusBadGateway, codeNodeUnreachable, "the node holding this session did not answer", nil)
		},
	}
}

// NodeInfo is a node in the registry.
type NodeInfo struct {
	ID       string    `json:"id"`
	URL      string    `json:"url"`
	State    string    `json:"state"`
	Sessions int       `json:"sessions"`
	Capacity int       `json:"capacity"`
	Version  string    `json:"version"`
	Started  string    `json:"started"`
	LastBeat time.Time `json:"last_heartbeat"`
	Self     bool      `json:"self"`
}

// Nodes lists the live nodes (their hashes not yet expired), by id.
func (n *Node) Nodes(ctx context.Context) ([]NodeInfo, error) {
	cctx, cancel := context.WithTimeout(ctx, redisCallTimeout)
	defer cancel()
	now, err := n.client.Time(cctx).Result()
	if err != nil {
		return nil, fmt.Errorf("cluster: nodes: %w", err)
	}
	ids, err := n.client.ZRangeByScore(cctx, n.keys.nodes(), &redis.ZRangeBy{
		Min: strconv.FormatInt(now.UnixMilli(), 10), Max: "+inf",
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("cluster: nodes: %w", err)
	}
	pipe := n.client.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGetAll(cctx, n.keys.node(id))
	}
	if _, err := pipe.Exec(cctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("cluster: nodes: %w", err)
	}
	out := make([]NodeInfo, 0, len(ids))
	for _, c := range cmds {
		h := c.Val()
		if h["id"] == "" {
			continue // expired between the two reads
		}
		sessions, _ := strconv.Atoi(h["sessions"])
		capacity, _ := strconv.Atoi(h["capacity"])
		beat, _ := strconv.ParseInt(h["heartbeat_ms"], 10, 64)
		out = append(out, NodeInfo{
			ID: h["id"], URL: h["url"], State: h["state"], Sessions: sessions, Capacity: capacity,
			Version: h["version"], Started: h["started"], LastBeat: time.UnixMilli(beat).UTC(), Self: h["id"] == n.cfg.NodeID,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// NodeAnswer is one other node's answer to a fanned-out request.
type NodeAnswer struct {
	Node string
	// Body is the answer (2xx only); Err why there is none.
	Body []byte
	Err  error
}

// FanOut sends r (its method, path and credentials) to every other live
// node with the node secret, concurrently, and returns their answers.
// A request that was itself fanned out is never sent on.
func (n *Node) FanOut(r *http.Request) ([]NodeAnswer, error) {
	if n.Forwarded(r) {
		return nil, nil
	}
	nodes, err := n.Nodes(r.Context())
	if err != nil {
		return nil, err
	}
	out := make([]NodeAnswer, 0, len(nodes))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, node := range nodes {
		if node.Self {
			continue
		}
		wg.Go(func() {
			body, err := n.ask(r, node.URL)
			mu.Lock()
			out = append(out, NodeAnswer{Node: node.ID, Body: body, Err: err})
			mu.Unlock()
		})
	}
	wg.Wait()
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	return out, nil
}

func (n *Node) ask(in *http.Request, base string) ([]byte, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("cluster: node url %q: %w", base, err)
	}
	u = u.JoinPath(in.URL.Path)
	req, err := http.NewRequestWithContext(in.Context(), in.Method, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	req.Header.Set("Authorization", in.Header.Get("Authorization"))
	req.Header.Set(HeaderNodeSecret, string(n.cfg.Secret))
	req.Header.Set(HeaderForwardedBy, n.cfg.NodeID)
	resp, err := n.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cluster: %s: %w", u.Host, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxNodeBody))
	if err != nil {
		return nil, fmt.Errorf("cluster: %s: %w", u.Host, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("cluster: %s answered %d", u.Host, resp.StatusCode)
	}
	return body, nil
}
