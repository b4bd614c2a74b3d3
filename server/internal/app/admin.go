package app

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/parleyhq/parley/server/internal/auth"
	"github.com/parleyhq/parley/server/internal/cluster"
	"github.com/parleyhq/parley/server/internal/httpapi"
	"github.com/parleyhq/parley/server/internal/session"
)

// Admin and token routes.
const (
	PathSessions    = "/v1/sessions"
	PathSession     = "/v1/sessions/{id}"
	PathAdminDrain  = "/v1/admin/drain"
	PathAdminReload = "/v1/admin/reload"
	PathTokens      = "/v1/tokens"
)

// Admin API codes.
const (
	codeSessionNotFound = "session_not_found"
	codeInvalidRequest  = "invalid_request"
	codeTokensOff       = "tokens_disabled"
	codeConfigInvalid   = "config_invalid"
	codeReloadFailed    = "reload_failed"
	codeReloadBusy      = "reload_in_progress"
	codeReloadOff       = "reload_unavailable"
	// maxTokenRequestBytes bounds a token request body.
	maxTokenRequestBytes = 16 << 10
)

// sessionJSON is a session in the admin API.
type sessionJSON struct {
	ID        session.SessionID `json:"id"`
	Transport string            `json:"transport"`
	RemoteIP  string            `json:"remote_ip"`
	Started   time.Time         `json:"started"`
	State     string            `json:"state"`
	Turns     int64             `json:"turns"`
	// Generation is the plugin generation the session uses.
	Generation int `json:"generation"`
	// Labels are the transport's facts (a phone call's call_sid, from, to).
	Labels map[string]string `json:"labels,omitempty"`
	// Node is the cluster node that runs the session (cluster mode only).
	Node string `json:"node,omitempty"`
}

// sessionsJSON is GET /v1/sessions. In cluster mode it lists every node's
// sessions; UnreachableNodes are live nodes that did not answer (their
// sessions are missing) and Partial says the list is incomplete.
type sessionsJSON struct {
	Sessions         []sessionJSON `json:"sessions"`
	UnreachableNodes []string      `json:"unreachable_nodes,omitempty"`
	Partial          bool          `json:"partial,omitempty"`
}

func toJSON(i session.Info) sessionJSON {
	return sessionJSON{
		ID: i.ID, Transport: i.Transport, RemoteIP: i.RemoteIP, Started: i.Started, State: i.State, Turns: i.Turns,
		Generation: i.Generation, Labels: i.Labels,
	}
}

// adminRoutes are the operator's API: list, inspect and end sessions,
// stop admitting new ones (drain) while the running ones go on, and
// reload the plugin configuration.
//
// node is the cluster membership (nil: a single node): then the list
// covers every node and a session on another node is forwarded to it.
func adminRoutes(mgr *session.Manager, node *cluster.Node, stopAdmitting func(), reload *reloader) func(r chi.Router) {
	return func(r chi.Router) {
		r.Get(PathSessions, func(w http.ResponseWriter, r *http.Request) {
			infos := mgr.Sessions()
			out := sessionsJSON{Sessions: make([]sessionJSON, 0, len(infos))}
			for _, i := range infos {
				j := toJSON(i)
				if node != nil {
					j.Node = node.ID()
				}
				out.Sessions = append(out.Sessions, j)
			}
			if node != nil {
				clusterSessions(r, node, &out)
			}
			httpapi.WriteJSON(w, http.StatusOK, out)
		})
		r.Group(func(r chi.Router) {
			if node != nil {
				r.Use(node.Forward(localSession(mgr)))
			}
			sessionRoutes(r, mgr)
		})
		r.Post(PathAdminDrain, func(w http.ResponseWriter, _ *http.Request) {
			stopAdmitting()
			httpapi.WriteJSON(w, http.StatusAccepted, map[string]any{"admitting": false, "running": mgr.Count()})
		})
		r.Post(PathAdminReload, func(w http.ResponseWriter, r *http.Request) {
			res, err := reload.Reload(r.Context(), "admin")
			switch {
			case err == nil:
				httpapi.WriteJSON(w, http.StatusOK, res)
			case errors.Is(err, ErrReloadInvalid):
				// The operator's own files: the message names the key.
				httpapi.WriteError(w, http.StatusUnprocessableEntity, codeConfigInvalid, err.Error(), nil)
			case errors.Is(err, ErrReloadStart):
				httpapi.WriteError(w, http.StatusServiceUnavailable, codeReloadFailed, err.Error(), nil)
			case errors.Is(err, ErrReloadBusy):
				httpapi.WriteError(w, http.StatusConflict, codeReloadBusy, "a reload is already running; try again when it ends", nil)
			case errors.Is(err, ErrReloadUnavailable):
				httpapi.WriteError(w, http.StatusServiceUnavailable, codeReloadOff, "the server was not started from config files", nil)
			default:
				httpapi.WriteError(w, http.StatusInternalServerError, httpapi.CodeInternal, "reload failed", nil)
			}
		})
	}
}

// tokenRequest is the body of POST /v1/tokens.
type tokenRequest struct {
	TTLSeconds        int64    `json:"ttl_seconds"`
	BindSession       bool     `json:"bind_session"`
	MaxSessionSeconds int64    `json:"max_session_seconds"`
	SystemPrompt      string   `json:"system_prompt"`
	Voice             string   `json:"voice"`
	Tools             []string `json:"tools"`
	Record            *bool    `json:"record"`
}

type tokenResponse struct {
	Token     string    `json:"token"`
	TokenType string    `json:"token_type"`
	ExpiresAt time.Time `json:"expires_at"`
	SessionID string    `json:"session_id,omitempty"`
}

// tokenRoutes mints client tokens for a backend.
func tokenRoutes(tokens *auth.Tokens) func(r chi.Router) {
	return func(r chi.Router) {
		r.Post(PathTokens, func(w http.ResponseWriter, r *http.Request) {
			var req tokenRequest
			dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxTokenRequestBytes))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&req); err != nil {
				httpapi.WriteError(w, http.StatusBadRequest, codeInvalidRequest, "the body must be a JSON token request: "+err.Error(), nil)
				return
			}
			tok, err := tokens.Mint(auth.Request{
				TTL: time.Duration(req.TTLSeconds) * time.Second, BindSession: req.BindSession,
				MaxSession: time.Duration(req.MaxSessionSeconds) * time.Second, SystemPrompt: req.SystemPrompt, Voice: req.Voice, Tools: req.Tools,
				Record: req.Record,
			})
			switch {
			case errors.Is(err, auth.ErrTokensOff):
				httpapi.WriteError(w, http.StatusServiceUnavailable, codeTokensOff, "client tokens are off: put signing keys in the variable auth.tokens.secret_env names", nil)
				return
			case errors.Is(err, auth.ErrBadRequest):
				httpapi.WriteError(w, http.StatusBadRequest, codeInvalidRequest, err.Error(), nil)
				return
			case err != nil:
				httpapi.WriteError(w, http.StatusInternalServerError, httpapi.CodeInternal, "could not mint a token", nil)
				return
			}
			httpapi.WriteJSON(w, http.StatusCreated, tokenResponse{Token: tok.Token, TokenType: "Bearer", ExpiresAt: tok.ExpiresAt, SessionID: tok.SessionID})
		})
	}
}

// sessionRoutes inspect and end one session of this node.
func sessionRoutes(r chi.Router, mgr *session.Manager) {
	r.Get(PathSession, func(w http.ResponseWriter, r *http.Request) {
		s, ok := mgr.Lookup(session.SessionID(chi.URLParam(r, "id")))
		if !ok {
			httpapi.WriteError(w, http.StatusNotFound, codeSessionNotFound, "no running session with this id", nil)
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, toJSON(s.Info()))
	})
	r.Delete(PathSession, func(w http.ResponseWriter, r *http.Request) {
		s, ok := mgr.Lookup(session.SessionID(chi.URLParam(r, "id")))
		if !ok {
			httpapi.WriteError(w, http.StatusNotFound, codeSessionNotFound, "no running session with this id", nil)
			return
		}
		s.Close(session.EndByOperator, "ended by an operator")
		select {
		case <-s.Done():
			w.WriteHeader(http.StatusNoContent)
		case <-r.Context().Done():
		}
	})
}
