package webrtc

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parleyhq/parley/server/internal/auth"
	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/turn"
)

// ICEServersPath serves the ICE server list with fresh credentials.
const ICEServersPath = "/v1/webrtc/ice-servers"

// defaultTURNUser is the user part of an issued TURN username when the
// request carries no client token bound to a session.
const defaultTURNUser = "parley"

// ErrICECredentials is returned when credentials of an ice_servers entry
// cannot be issued (an hmac entry without its secret).
var ErrICECredentials = errors.New("webrtc: cannot issue ICE server credentials")

// iceServers is webrtc.ice_servers: static entries as configured, hmac
// entries with credentials issued on each call.
type iceServers struct {
	cfg []config.ICEServer
}

// issue returns the list with fresh credentials for user at now, and when
// the first issued credential expires (zero when none is time-limited).
// Errors name the entry, never the secret.
func (s iceServers) issue(user string, now time.Time) ([]ICEServerJSON, time.Time, error) {
	out := make([]ICEServerJSON, 0, len(s.cfg))
	var expires time.Time
	for i, c := range s.cfg {
		srv := ICEServerJSON{URLs: c.URLs, Username: c.Username, Credential: c.Credential}
		if c.HMAC() {
			cred, err := turn.Issue(c.Secret, user, now, c.CredentialTTL())
			if err != nil {
				return nil, time.Time{}, fmt.Errorf("%w: ice_servers[%d]: %w", ErrICECredentials, i, err)
			}
			srv.Username, srv.Credential = cred.Username, cred.Password
			if expires.IsZero() || cred.ExpiresAt.Before(expires) {
				expires = cred.ExpiresAt
			}
		}
		out = append(out, srv)
	}
	return out, expires, nil
}

// turnUser is the user part of the TURN usernames issued for a request:
// the session id its client token is bound to, or defaultTURNUser.
func turnUser(r *http.Request) string {
	if c := auth.ClaimsFrom(r.Context()); c != nil && c.SessionID != "" {
		return c.SessionID
	}
	return defaultTURNUser
}

// ICEServersResponse is the body of GET /v1/webrtc/ice-servers: what a
// browser passes as RTCConfiguration.iceServers.
type ICEServersResponse struct {
	ICEServers []ICEServerJSON `json:"ice_servers"`
	// ExpiresAt is when the first time-limited credential expires; absent
	// when none is.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// ICEServerJSON is one RTCIceServer.
type ICEServerJSON struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// ServeICEServers handles GET /v1/webrtc/ice-servers: the configured ICE
// servers with fresh time-limited TURN credentials (an empty list when
// none is configured). The response is not cacheable.
func (h *Handler) ServeICEServers(w http.ResponseWriter, r *http.Request) {
	servers, expires, err := h.ice.issue(turnUser(r), h.mgr.Clock().Now())
	if err != nil {
		h.log.Error("ICE server credentials", "error", err)
		writeError(w, http.StatusInternalServerError, codeICECredentials, "ICE server credentials are unavailable", nil)
		return
	}
	b, err := json.Marshal(ICEServersResponse{ICEServers: servers, ExpiresAt: expires})
	if err != nil {
		writeError(w, http.StatusInternalServerError, codeInternal, "ICE server list encoding failed", nil)
		return
	}
	w.Header().Set("Content-Type", mimeJSON)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// pionICEServers converts the list for a pion Configuration.
func pionICEServers(list []ICEServerJSON) []webrtc.ICEServer {
	out := make([]webrtc.ICEServer, 0, len(list))
	for _, s := range list {
		out = append(out, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	return out
}
