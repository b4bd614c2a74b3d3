// Package ws serves Parley's client protocol (parley.v1) on /ws/voice:
// JSON text messages and binary PCM16LE audio over a WebSocket. It moves
// bytes and enforces the connection's limits (size, rate, keep-alive, slow
// readers); protocol/parleyv1 parses and encodes, the session decides.
package ws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/coder/websocket"

	"github.com/parleyhq/parley/server/internal/auth"
	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/protocol/parleyv1"
	"github.com/parleyhq/parley/server/internal/session"
)

// Defaults for zero config values.
const (
	defaultMaxMessageBytes = 64 << 10
	defaultSendBuffer      = 256
	// hardLimitFactor: messages up to this multiple of MaxMessageBytes are
	// read and refused with an error event; beyond it the connection is
	// closed with 1009.
	hardLimitFactor = 4
	// retryAfterSeconds is the Retry-After of a refused upgrade.
	retryAfterSeconds = 5
)

// Handler serves /ws/voice.
type Handler struct {
	cfg     config.WebSocket
	mgr     *session.Manager
	log     *slog.Logger
	origins []string
}

// New returns the /ws/voice handler. Access control (API keys, per-IP
// request rate) is the HTTP middleware's job; the handler checks the
// Origin header against auth.AllowedOrigins (same-host origins always pass)
// and admits sessions through mgr, using r.RemoteAddr as the client IP.
func New(cfg config.WebSocket, auth config.Auth, mgr *session.Manager, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = defaultMaxMessageBytes
	}
	if cfg.SendBuffer <= 0 {
		cfg.SendBuffer = defaultSendBuffer
	}
	return &Handler{cfg: cfg, mgr: mgr, log: logger, origins: OriginPatterns(auth.AllowedOrigins)}
}

// OriginPatterns turns allowed origins ("https://app.example.com", "*")
// into coder/websocket host patterns ("app.example.com", "*").
func OriginPatterns(allowed []string) []string {
	out := make([]string, 0, len(allowed))
	for _, o := range allowed {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		if u, err := url.Parse(o); err == nil && u.Host != "" {
			out = append(out, u.Host)
			continue
		}
		out = append(out, o)
	}
	return out
}

// errorBody is the JSON body of a refused upgrade.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    session.ErrorCode `json:"code"`
	Message string            `json:"message"`
	Details map[string]string `json:"details"`
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ip := session.ClientIP(r.RemoteAddr)
	params := session.StartParams{Transport: "websocket", AwaitUpdate: true}
	if c := auth.ClaimsFrom(r.Context()); c != nil {
		params.SessionID, params.MaxDuration = session.SessionID(c.SessionID), c.MaxSession()
		params.SystemPrompt, params.Voice, params.ServerTools = c.SystemPrompt, c.Voice, c.Tools
		params.Record = c.Record
		if _, running := h.mgr.Lookup(params.SessionID); running && c.SessionID != "" {
			writeRefusal(w, http.StatusConflict, codeSessionInUse, "the token's session is already running")
			return
		}
	}
	res, err := h.mgr.Reserve(ip)
	if err != nil {
		h.refuse(w, err)
		return
	}
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols:   []string{parleyv1.Version},
		OriginPatterns: h.origins,
	})
	if err != nil {
		res.Release()
		h.log.Info("websocket upgrade refused", "remote_ip", ip, "error", err)
		return
	}
	c.SetReadLimit(h.cfg.MaxMessageBytes * hardLimitFactor)
	log := h.log.With("remote_ip", ip)
	// The session and the connection outlive nothing but the connection:
	// drain ends them explicitly, so they do not inherit cancellation.
	ctx := context.WithoutCancel(r.Context())
	wc := NewConn(c, h.cfg.SendBuffer, h.cfg.WriteTimeout, websocket.StatusCode(parleyv1.CloseSlowConsumer), log)
	go wc.Run(ctx)
	params.Sink = parleyv1.NewSink(v1Wire{wc})
	sess, err := h.mgr.Start(ctx, res, params)
	if err != nil {
		log.Error("session start failed", "error", err)
		wc.Close(websocket.StatusCode(parleyv1.CloseInternalError), "session start failed")
		<-wc.Done()
		return
	}
	wc.SetLogger(log.With("session_id", string(sess.ID())))
	pingDone := make(chan struct{})
	go func() {
		defer close(pingDone)
		KeepAlive(ctx, c, h.cfg.PingInterval, sess)
	}()
	limit := h.cfg.MaxMessageBytes
	ReadMessages(ctx, c, Limits{MaxMessageBytes: limit, MaxMessagesPerSecond: h.cfg.MaxMessagesPerSecond}, h.mgr.Clock(), sess, log,
		func(size int64) {
			sess.ReportError(parleyv1.CodeMessageTooLarge, "message exceeds "+strconv.FormatInt(limit, 10)+" bytes",
				map[string]string{"max_bytes": strconv.FormatInt(limit, 10), "bytes": strconv.FormatInt(size, 10)})
		},
		func(typ websocket.MessageType, data []byte) error {
			if typ == websocket.MessageText {
				return handleText(ctx, sess, data)
			}
			return sess.HandleAudio(ctx, data)
		})
	sess.Close(session.EndNormal, "client closed the connection")
	<-sess.Done()
	<-pingDone
	<-wc.Done()
}

// codeSessionInUse refuses a client token whose session id is running.
const codeSessionInUse session.ErrorCode = "session_in_use"

// refuse answers an upgrade over the admission limits with 503.
func (h *Handler) refuse(w http.ResponseWriter, err error) {
	code := session.RefusalCode(err)
	h.log.Info("session refused", "code", string(code))
	w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	writeRefusal(w, http.StatusServiceUnavailable, code, err.Error())
}

// writeRefusal writes the JSON error body of a refused upgrade.
func writeRefusal(w http.ResponseWriter, status int, code session.ErrorCode, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	body, _ := json.Marshal(errorBody{Error: errorDetail{Code: code, Message: msg, Details: map[string]string{}}})
	_, _ = w.Write(body)
}

// handleText parses one client message and hands the command to the
// session; a malformed one is answered with an error event.
func handleText(ctx context.Context, sess *session.Session, data []byte) error {
	cmd, err := parleyv1.Parse(data)
	var pe *parleyv1.ProtocolError
	if errors.As(err, &pe) {
		sess.ReportError(pe.Code, pe.Message, pe.Details)
		return nil
	}
	if err != nil {
		return fmt.Errorf("ws: parse: %w", err)
	}
	return sess.Handle(ctx, cmd)
}
