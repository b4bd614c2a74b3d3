// Package realtime serves the OpenAI Realtime protocol (GA) on
// GET /v1/realtime: existing Realtime apps and the official SDKs talk to a
// Parley session, with whatever STT, LLM and TTS plugins it runs, by
// changing their base URL. It moves bytes and enforces the connection's
// limits (the websocket.* limits of /ws/voice); protocol/realtime parses
// and encodes, the session decides. The mapping of every event is in
// README.md.
package realtime

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/coder/websocket"

	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/protocol/realtime"
	"github.com/parleyhq/parley/server/internal/protocol/wsclose"
	"github.com/parleyhq/parley/server/internal/session"
	"github.com/parleyhq/parley/server/internal/transport/ws"
)

// Path is the route of the endpoint.
const Path = "/v1/realtime"

// Limits and names.
const (
	defaultMaxMessageBytes = 256 << 10
	defaultSendBuffer      = 256
	// hardLimitFactor: messages up to this multiple of MaxMessageBytes are
	// read and refused with an error event; beyond it the connection is
	// closed with 1009.
	hardLimitFactor = 4
	// retryAfterSeconds is the Retry-After of a refused upgrade.
	retryAfterSeconds = 5
	// transportName names the transport in session logs and metrics.
	transportName = "realtime"
	// modelParam is the query parameter naming the model (echoed only).
	modelParam = "model"
)

// Handler serves /v1/realtime.
type Handler struct {
	cfg     config.WebSocket
	mgr     *session.Manager
	log     *slog.Logger
	origins []string
}

// New returns the handler. Access control (API keys as a bearer token or
// in the `openai-insecure-api-key.` subprotocol, per-IP request rate) is
// the HTTP middleware's job; the handler checks the Origin against
// auth.AllowedOrigins like /ws/voice and admits sessions through mgr.
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
	return &Handler{cfg: cfg, mgr: mgr, log: logger.With("transport", transportName), origins: ws.OriginPatterns(auth.AllowedOrigins)}
}

// wire is a ws.Conn as a realtime.Wire.
type wire struct{ *ws.Conn }

// Close implements realtime.Wire.
func (w wire) Close(code wsclose.Code, reason string) {
	w.Conn.Close(websocket.StatusCode(code), reason)
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ip := session.ClientIP(r.RemoteAddr)
	res, err := h.mgr.Reserve(ip)
	if err != nil {
		h.refuse(w, err)
		return
	}
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols:   []string{realtime.Subprotocol},
		OriginPatterns: h.origins,
	})
	if err != nil {
		res.Release()
		h.log.Info("websocket upgrade refused", "remote_ip", ip, "error", err)
		return
	}
	c.SetReadLimit(h.cfg.MaxMessageBytes * hardLimitFactor)
	log := h.log.With("remote_ip", ip)
	// The session and the connection outlive nothing but the connection.
	ctx := context.WithoutCancel(r.Context())
	wc := ws.NewConn(c, h.cfg.SendBuffer, h.cfg.WriteTimeout, websocket.StatusCode(wsclose.SlowConsumer), log)
	go wc.Run(ctx)
	conn := realtime.NewConn(wire{wc}, r.URL.Query().Get(modelParam))
	sess, err := h.mgr.Start(ctx, res, session.StartParams{
		Sink: conn, Transport: transportName, InputSampleRate: realtime.InputRate, OutputSampleRate: realtime.OutputRate,
		NoResume: true, // Realtime clients cannot take a cancelled response back
	})
	if err != nil {
		log.Error("session start failed", "error", err)
		wc.Close(websocket.StatusCode(wsclose.InternalError), "session start failed")
		<-wc.Done()
		return
	}
	log = log.With("session_id", string(sess.ID()))
	wc.SetLogger(log)
	pingDone := make(chan struct{})
	go func() {
		defer close(pingDone)
		ws.KeepAlive(ctx, c, h.cfg.PingInterval, sess)
	}()
	limit := h.cfg.MaxMessageBytes
	ws.ReadMessages(ctx, c, ws.Limits{MaxMessageBytes: limit, MaxMessagesPerSecond: h.cfg.MaxMessagesPerSecond}, h.mgr.Clock(), sess, log,
		func(int64) {
			conn.Refuse(realtime.CodeMessageTooLarge, "message exceeds "+strconv.FormatInt(limit, 10)+" bytes")
		},
		func(typ websocket.MessageType, data []byte) error {
			if typ != websocket.MessageText {
				conn.Refuse(realtime.CodeBinary, "the protocol is JSON text messages")
				return nil
			}
			return h.deliver(ctx, conn.Handle(data), sess)
		})
	sess.Close(session.EndNormal, "client closed the connection")
	<-sess.Done()
	<-pingDone
	<-wc.Done()
}

// refuse answers an upgrade over the admission limits with 503 and an
// OpenAI-shaped error body.
func (h *Handler) refuse(w http.ResponseWriter, err error) {
	code := session.RefusalCode(err)
	h.log.Info("session refused", "code", string(code))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	w.WriteHeader(http.StatusServiceUnavailable)
	body, _ := json.Marshal(map[string]map[string]string{"error": {
		"type": string(realtime.TypeServer), "code": string(code), "message": err.Error(),
	}})
	_, _ = w.Write(body)
}

func (h *Handler) deliver(ctx context.Context, in realtime.Inbound, sess *session.Session) error {
	for _, cmd := range in.Commands {
		if err := sess.Handle(ctx, cmd); err != nil {
			return err
		}
	}
	if in.Audio != nil {
		return sess.HandleAudio(ctx, in.Audio)
	}
	return nil
}
