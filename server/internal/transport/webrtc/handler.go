// Package webrtc serves Parley's client protocol over WebRTC: WHIP-style
// HTTP signaling (POST an SDP offer, get the answer and a session
// resource; DELETE it to hang up; PATCH it with trickled ICE candidates),
// Opus audio over RTP in both directions and the parley.v1 JSON events on a
// data channel labelled "events". Audio is decoded, concealed and converted
// at the edge; turn-taking belongs to the session package, so both
// transports behave the same.
package webrtc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/go-chi/chi/v5"
	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"github.com/parleyhq/parley/server/internal/auth"
	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/session"
)

// Routes and headers.
const (
	// OfferPath receives SDP offers.
	OfferPath = "/v1/webrtc/offer"
	// SessionPathPrefix is the prefix of a session resource (Location).
	SessionPathPrefix = "/v1/webrtc/sessions/"
	// HeaderSessionID carries the session id in the answer.
	HeaderSessionID = "X-Session-Id"
	// retryAfterSeconds is the Retry-After of a refused offer.
	retryAfterSeconds = 5
	// defaultMaxOfferBytes applies when config.WebRTC.MaxOfferBytes is 0.
	defaultMaxOfferBytes = 64 << 10
	// transportName names this transport in session logs.
	transportName = "webrtc"
)

// counters are the transport's running totals (see Stats).
type counters struct {
	framesSent, lateFrames                          atomic.Uint64
	packetsIn, packetsLost, packetsLate, badPackets atomic.Uint64
	silenceFilled                                   atomic.Uint64
}

// Stats are the transport's totals since New.
type Stats struct {
	// FramesSent is the number of Opus RTP packets sent.
	FramesSent uint64
	// LateFrames were sent more than one frame (20 ms) after their slot.
	LateFrames uint64
	// PacketsIn is the number of audio RTP packets received.
	PacketsIn uint64
	// PacketsLost were missing and concealed (FEC or PLC).
	PacketsLost uint64
	// PacketsLate arrived after their slot was played, or twice, and were dropped.
	PacketsLate uint64
	// BadPackets did not decode.
	BadPackets uint64
	// SilenceFilled is the number of 20 ms frames of silence given to
	// sessions while their clients were in DTX (sending no packets).
	SilenceFilled uint64
}

// Handler serves WebRTC sessions. One pion API (codecs, interceptors,
// network settings) is shared by all its peer connections.
type Handler struct {
	cfg   config.WebRTC
	mgr   *session.Manager
	log   *slog.Logger
	api   *webrtc.API
	mux   *ice.MultiUDPMuxDefault
	ice   iceServers
	stats counters
	// filler gives receiving peers their silence during DTX pauses.
	filler filler
	// encoders lends Opus encoders to the pacers of speaking sessions.
	encoders *encoderPool

	wg     sync.WaitGroup
	mu     sync.Mutex
	closed bool
	peers  map[session.SessionID]*peer
}

// New builds the handler and its pion API from cfg. Sessions are admitted
// through mgr, using r.RemoteAddr as the client IP (the HTTP middleware
// rewrites it for trusted proxies). With cfg.UDPMuxPort set it listens on
// that UDP port at once; Close releases it. An hmac ice_servers entry
// without its secret is ErrICECredentials.
func New(cfg config.WebRTC, mgr *session.Manager, logger *slog.Logger) (*Handler, error) {
	if mgr == nil {
		return nil, errors.New("webrtc: session manager is nil")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxOfferBytes <= 0 {
		cfg.MaxOfferBytes = defaultMaxOfferBytes
	}
	servers := iceServers{cfg: slices.Clone(cfg.ICEServers)}
	// Refuse at start what every offer would fail on.
	if _, _, err := servers.issue(defaultTURNUser, mgr.Clock().Now()); err != nil {
		return nil, err
	}
	encoders, err := newEncoderPool(cfg.OpusComplexity)
	if err != nil {
		return nil, err
	}
	api, mux, err := newAPI(cfg, logger)
	if err != nil {
		return nil, err
	}
	return &Handler{
		cfg: cfg, mgr: mgr, log: logger, api: api, mux: mux, ice: servers, encoders: encoders,
		peers: map[session.SessionID]*peer{},
	}, nil
}

// Routes mounts POST /v1/webrtc/offer, GET /v1/webrtc/ice-servers and
// DELETE and PATCH on /v1/webrtc/sessions/{id}.
func (h *Handler) Routes(r chi.Router) {
	r.Post(OfferPath, h.ServeOffer)
	r.Get(ICEServersPath, h.ServeICEServers)
	r.Delete(SessionPathPrefix+"{id}", h.ServeDelete)
	r.Patch(SessionPathPrefix+"{id}", h.ServePatch)
}

// Stats returns the transport's totals.
func (h *Handler) Stats() Stats {
	s := &h.stats
	return Stats{
		FramesSent: s.framesSent.Load(), LateFrames: s.lateFrames.Load(), PacketsIn: s.packetsIn.Load(),
		PacketsLost: s.packetsLost.Load(), PacketsLate: s.packetsLate.Load(), BadPackets: s.badPackets.Load(),
		SilenceFilled: s.silenceFilled.Load(),
	}
}

// Count returns the number of live peer connections.
func (h *Handler) Count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.peers)
}

// Close refuses new offers, ends every session (close code CloseGoingAway),
// waits for their peer connections to be released or ctx to end, and closes
// the shared UDP mux.
func (h *Handler) Close(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	all := make([]*peer, 0, len(h.peers))
	for _, p := range h.peers {
		all = append(all, p)
	}
	h.mu.Unlock()
	for _, p := range all {
		p.conn.Close(session.EndShutdown, "server shutting down")
	}
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("webrtc: close: %w", ctx.Err())
	}
	if h.mux != nil {
		if cerr := h.mux.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("webrtc: close udp mux: %w", cerr)
		}
	}
	return err
}

// ServeOffer handles POST /v1/webrtc/offer: application/sdp (answer in
// application/sdp) or JSON {sdp,type} (answer in JSON with session_id).
// 201 with Location and X-Session-Id; 400 bad SDP, 413 too large, 415 wrong
// media type, 422 no audio or no Opus, 503 over the limits (Retry-After).
func (h *Handler) ServeOffer(w http.ResponseWriter, r *http.Request) {
	body, rerr := readBody(w, r, h.cfg.MaxOfferBytes)
	if rerr != nil {
		h.fail(w, rerr)
		return
	}
	text, asJSON, rerr := decodeOffer(mediaType(r), body)
	if rerr != nil {
		h.fail(w, rerr)
		return
	}
	info, rerr := checkOffer(text)
	if rerr != nil {
		h.fail(w, rerr)
		return
	}
	ip := session.ClientIP(r.RemoteAddr)
	if h.isClosed() {
		h.refuse(w, session.ErrDraining)
		return
	}
	res, err := h.mgr.Reserve(ip)
	if err != nil {
		h.refuse(w, err)
		return
	}
	log := h.log.With("remote_ip", ip)
	// The peer and its session outlive the request: they keep its values,
	// not its cancellation.
	pctx, pcancel := context.WithCancel(context.WithoutCancel(r.Context()))
	p, answer, err := h.newPeer(r.Context(), pctx, pcancel, text, info, turnUser(r), log)
	if err != nil {
		pcancel()
		res.Release()
		var re *requestError
		if errors.As(err, &re) {
			h.fail(w, re)
			return
		}
		log.Error("peer connection setup failed", "error", err)
		writeError(w, http.StatusInternalServerError, codeInternal, "peer connection setup failed", nil)
		return
	}
	params := session.StartParams{
		Sink: p.conn, Transport: transportName, InputSampleRate: inputRate, OutputSampleRate: outputRate,
	}
	if c := auth.ClaimsFrom(r.Context()); c != nil {
		params.SessionID, params.MaxDuration = session.SessionID(c.SessionID), c.MaxSession()
		params.SystemPrompt, params.Voice, params.ServerTools = c.SystemPrompt, c.Voice, c.Tools
		params.Record = c.Record
	}
	sess, err := h.mgr.Start(pctx, res, params)
	if errors.Is(err, session.ErrSessionIDInUse) {
		p.abort()
		writeError(w, http.StatusConflict, codeSessionInUse, "the token's session is already running", nil)
		return
	}
	if err != nil {
		p.abort()
		log.Error("session start failed", "error", err)
		writeError(w, http.StatusInternalServerError, codeInternal, "session start failed", nil)
		return
	}
	if !h.add(sess, p) {
		sess.Close(session.EndShutdown, "server shutting down")
		p.abort()
		<-sess.Done()
		h.refuse(w, session.ErrDraining)
		return
	}
	id := string(sess.ID())
	w.Header().Set("Location", SessionPathPrefix+id)
	w.Header().Set(HeaderSessionID, id)
	if asJSON {
		b, err := json.Marshal(answerJSON{SDP: answer, Type: webrtc.SDPTypeAnswer.String(), SessionID: id})
		if err != nil {
			writeError(w, http.StatusInternalServerError, codeInternal, "answer encoding failed", nil)
			return
		}
		w.Header().Set("Content-Type", mimeJSON)
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(b)
		return
	}
	w.Header().Set("Content-Type", mimeSDP)
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write([]byte(answer))
}

// ServeDelete handles DELETE /v1/webrtc/sessions/{id}: it ends the session
// and answers 204 once its peer connection is released (404 if unknown).
func (h *Handler) ServeDelete(w http.ResponseWriter, r *http.Request) {
	p, ok := h.lookup(w, r)
	if !ok {
		return
	}
	p.conn.Close(session.EndNormal, "session ended by the client (DELETE)")
	select {
	case <-p.done:
		w.WriteHeader(http.StatusNoContent)
	case <-r.Context().Done():
	}
}

// ServePatch handles PATCH /v1/webrtc/sessions/{id} with an
// application/trickle-ice-sdpfrag body: the client's late ICE candidates.
// 204 when added, 400 malformed, 404 unknown session, 415 other media types.
func (h *Handler) ServePatch(w http.ResponseWriter, r *http.Request) {
	p, ok := h.lookup(w, r)
	if !ok {
		return
	}
	if mt := mediaType(r); mt != mimeTrickleFrag {
		writeError(w, http.StatusUnsupportedMediaType, codeUnsupportedMediaType,
			"Content-Type must be "+mimeTrickleFrag, map[string]string{"content_type": mt})
		return
	}
	body, rerr := readBody(w, r, h.cfg.MaxOfferBytes)
	if rerr != nil {
		h.fail(w, rerr)
		return
	}
	cands, err := parseTrickle(string(body))
	if err != nil {
		writeError(w, http.StatusBadRequest, codeInvalidCandidate, err.Error(), nil)
		return
	}
	for i, c := range cands {
		if err := p.pc.AddICECandidate(c); err != nil {
			writeError(w, http.StatusBadRequest, codeInvalidCandidate, "candidate refused: "+err.Error(),
				map[string]string{"index": strconv.Itoa(i)})
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) lookup(w http.ResponseWriter, r *http.Request) (*peer, bool) {
	id := session.SessionID(chi.URLParam(r, "id"))
	if c := auth.ClaimsFrom(r.Context()); c != nil && c.SessionID != string(id) {
		// A token opens its own session's resource only.
		writeError(w, http.StatusForbidden, codeTokenSessionMismatch, "the token is not for this session", nil)
		return nil, false
	}
	h.mu.Lock()
	p, ok := h.peers[id]
	h.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, codeSessionNotFound, "no such WebRTC session", map[string]string{"session_id": string(id)})
	}
	return p, ok
}

func (h *Handler) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// add registers a started peer; its supervisor runs once its conn closes.
// False once the handler is closed.
func (h *Handler) add(sess *session.Session, p *peer) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	p.start(sess)
	h.peers[sess.ID()] = p
	h.wg.Add(1)
	p.conn.whenClosed(func() {
		defer h.wg.Done()
		p.supervise()
		h.mu.Lock()
		delete(h.peers, sess.ID())
		h.mu.Unlock()
		close(p.done)
	})
	return true
}

func (h *Handler) fail(w http.ResponseWriter, e *requestError) {
	h.log.Info("offer refused", "status", e.status, "code", string(e.code), "error", e.msg)
	writeError(w, e.status, e.code, e.msg, e.details)
}

// refuse answers an offer over the admission limits with 503.
func (h *Handler) refuse(w http.ResponseWriter, err error) {
	code := session.RefusalCode(err)
	h.log.Info("session refused", "code", string(code))
	w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	writeError(w, http.StatusServiceUnavailable, httpCode(code), err.Error(), nil)
}
