package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/parleyhq/parley/server/internal/cluster"
	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/httpapi"
	"github.com/parleyhq/parley/server/internal/session"
)

// PathClusterNodes lists the live cluster nodes (admin).
const PathClusterNodes = "/v1/cluster/nodes"

// codeClusterOff answers the cluster routes of a single node.
const codeClusterOff = "cluster_disabled"

// newClusterNode connects to redis.* and builds this node's membership
// (nil, with a no-op close, when cluster mode is off).
func newClusterNode(cfg *config.Config, version string, reg prometheus.Registerer,
	logger *slog.Logger,
) (*cluster.Node, func(), error) {
	if !cfg.Cluster.Enabled {
		return nil, func() {}, nil
	}
	client := redis.NewClient(&redis.Options{
		Addr:     cfg.Redis.Addr,
		Password: cfg.Redis.Password,
		DB:       cfg.Redis.DB,
	})
	node, err := cluster.New(cfg.Cluster, cfg.Redis.KeyPrefix, client, cfg.Session.MaxSessions,
		version, reg, logger)
	if err != nil {
		_ = client.Close()
		return nil, nil, err
	}
	return node, func() { _ = client.Close() }, nil
}

// localSession reports whether a session id runs on this node.
func localSession(mgr *session.Manager) cluster.Local {
	return func(id string) bool {
		_, ok := mgr.Lookup(session.SessionID(id))
		return ok
	}
}

// clusterSessions adds the other nodes' sessions to out.
func clusterSessions(r *http.Request, node *cluster.Node, out *sessionsJSON) {
	answers, err := node.FanOut(r)
	if err != nil {
		out.Partial = true
		return
	}
	for _, a := range answers {
		var got sessionsJSON
		if a.Err != nil || json.Unmarshal(a.Body, &got) != nil {
			out.UnreachableNodes = append(out.UnreachableNodes, a.Node)
			out.Partial = true
			continue
		}
		for _, s := range got.Sessions {
			if s.Node == "" {
				s.Node = a.Node
			}
			out.Sessions = append(out.Sessions, s)
		}
	}
}

// clusterRoutes serve GET /v1/cluster/nodes (admin).
func clusterRoutes(node *cluster.Node) func(r chi.Router) {
	return func(r chi.Router) {
		r.Get(PathClusterNodes, func(w http.ResponseWriter, r *http.Request) {
			if node == nil {
				httpapi.WriteError(w, http.StatusNotFound, codeClusterOff, "cluster mode is off (cluster.enabled)", nil)
				return
			}
			nodes, err := node.Nodes(r.Context())
			if err != nil {
				httpapi.WriteError(w, http.StatusServiceUnavailable, "cluster_unavailable", "the node registry (Redis) is unreachable", nil)
				return
			}
			httpapi.WriteJSON(w, http.StatusOK, map[string][]cluster.NodeInfo{"nodes": nodes})
		})
	}
}

// leaveCluster removes the node's registry entries after the drain.
func leaveCluster(ctx context.Context, node *cluster.Node, logger *slog.Logger) {
	if node == nil {
		return
	}
	if err := node.Leave(ctx); err != nil {
		logger.Warn("could not leave the cluster registry; its entries expire within cluster.node_ttl", "error", err)
	}
}
