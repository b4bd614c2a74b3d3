package telephony

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/httpapi"
	"github.com/parleyhq/parley/server/internal/protocol/mediastream"
	"github.com/parleyhq/parley/server/internal/session"
	"github.com/parleyhq/parley/server/internal/transport/ws"
)

// Stream limits.
const (
	// maxStreamMessageBytes bounds one inbound message: a 20 ms media
	// message is ≈ 300 bytes, a start with parameters a few KiB.
	maxStreamMessageBytes = 64 << 10
	// retryAfterSeconds is the Retry-After of a refused stream.
	retryAfterSeconds = 5
	// inboundTrack is the caller's track.
	inboundTrack = "inbound"
	// transportName names the transport in session logs.
	transportName = "twilio"
)

// streamWire is a ws.Conn as a mediastream.Wire.
type streamWire struct{ *ws.Conn }

// Close implements mediastream.Wire.
func (w streamWire) Close(code mediastream.CloseCode, reason string) {
	w.Conn.Close(websocket.StatusCode(code), reason)
}

// endRecorder remembers why the session ended.
type endRecorder struct {
	session.Sink
	ended  atomic.Bool
	reason atomic.Int64
}

// Close implements session.Sink.
func (e *endRecorder) Close(r session.EndReason, detail string) {
	if e.ended.CompareAndSwap(false, true) {
		e.reason.Store(int64(r))
	}
	e.Sink.Close(r, detail)
}

// call is one media stream being served.
type call struct {
	h       *Handler
	c       *websocket.Conn
	wc      *ws.Conn
	log     *slog.Logger
	limiter *rate.Limiter
	flooded bool
	// sess is set once the call's session runs.
	sess *session.Session

	mu      sync.Mutex
	ignored map[mediastream.Reason]int
}

// serveMedia serves one Media Stream: it waits for a valid `start`, runs
// the call's session and ends it with the stream.
func (h *Handler) serveMedia(w http.ResponseWriter, r *http.Request) {
	res, err := h.mgr.Reserve(session.CarrierTraffic)
	if err != nil {
		code := session.RefusalCode(err)
		h.log.Info("call refused", "code", string(code))
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
		httpapi.WriteError(w, http.StatusServiceUnavailable, string(code), err.Error(), nil)
		return
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		res.Release()
		h.log.Info("media stream upgrade refused", "error", err)
		return
	}
	c.SetReadLimit(maxStreamMessageBytes)
	// The stream outlives nothing but its connection; drain ends it.
	ctx := context.WithoutCancel(r.Context())
	log := h.log.With("carrier", h.dialect.Name())
	wc := ws.NewConn(c, h.ws.SendBuffer, h.ws.WriteTimeout, websocket.StatusCode(mediastream.CloseSlowConsumer), log)
	go wc.Run(ctx)
	k := &call{
		h: h, c: c, wc: wc, log: log, ignored: map[mediastream.Reason]int{},
		limiter: rate.NewLimiter(rate.Limit(h.cfg.MaxMessagesPerSecond), h.cfg.MaxMessagesPerSecond),
	}
	defer k.summary()
	st, ok := k.awaitStart(ctx)
	if !ok {
		res.Release()
		<-wc.Done()
		return
	}
	from, to := st.Params[paramFrom], st.Params[paramTo]
	k.log = log.With("call_sid", st.CallID, "stream_sid", st.StreamID)
	wc.SetLogger(k.log)
	sink := &endRecorder{Sink: mediastream.NewSink(streamWire{wc}, h.dialect, st.Law, st.StreamID, k.onError)}
	params := session.StartParams{
		Sink: sink, Transport: transportName, InputSampleRate: audio.G711Rate, OutputSampleRate: audio.G711Rate,
		ReportsPlayback: true,
		Labels:          map[string]string{"call_sid": st.CallID, "stream_sid": st.StreamID, "from": from, "to": to},
	}
	if n, ok := h.numbers[to]; ok && n.Tools != nil {
		params.ServerTools = n.Tools
	}
	sess, err := h.mgr.Start(ctx, res, params)
	if err != nil {
		k.log.Error("session start failed", "error", err)
		wc.Close(websocket.StatusCode(mediastream.CloseInternalError), "session start failed")
		<-wc.Done()
		return
	}
	k.sess = sess
	k.log = k.log.With("session_id", string(sess.ID()))
	wc.SetLogger(k.log)
	h.metrics.calls.WithLabelValues(h.dialect.Name()).Inc()
	k.log.Info("call started", "from", from, "to", to)
	if u, ok := h.callSettings(to); ok {
		if err := sess.Handle(ctx, u); err != nil {
			k.log.Info("call settings not applied", "error", err)
		}
	}
	k.run(ctx, sess, st)
	sess.Close(session.EndNormal, "media stream closed")
	<-sess.Done()
	<-wc.Done()
	if sink.ended.Load() && session.EndReason(sink.reason.Load()) == session.EndByAgent && h.cfg.Twilio.RESTHangup {
		h.hangup(ctx, st.AccountID, st.CallID, k.log)
	}
}

// awaitStart reads until a valid start arrives; false (and the stream is
// being closed) if none comes within StartTimeout or its token is bad.
func (k *call) awaitStart(ctx context.Context) (mediastream.Start, bool) {
	// A read's context must not end it (the library then drops the
	// connection without a close frame): the timer closes the stream.
	timer := time.AfterFunc(k.h.cfg.StartTimeout, func() {
		k.log.Warn("media stream sent no start in time", "start_timeout", k.h.cfg.StartTimeout.String())
		k.wc.Close(websocket.StatusCode(mediastream.CloseNoStart), "no start message in time")
	})
	defer timer.Stop()
	for {
		env, ok := k.next(ctx)
		if !ok {
			return mediastream.Start{}, false
		}
		switch m := env.Message.(type) {
		case mediastream.Connected:
		case mediastream.Start:
			if !timer.Stop() {
				return mediastream.Start{}, false // too late: the stream is closing
			}
			if !k.validToken(m) {
				k.ignore(mediastream.ReasonBadToken, "the stream token is missing, expired or does not match the call")
				k.wc.Close(websocket.StatusCode(mediastream.ClosePolicyViolation), "invalid stream token")
				return mediastream.Start{}, false
			}
			return m, true
		default:
			k.ignore(mediastream.ReasonBeforeStart, "message before start")
		}
	}
}

func (k *call) validToken(st mediastream.Start) bool {
	p := st.Params
	return p[paramCallSID] == st.CallID &&
		k.h.tokens.verify(p[paramToken], st.CallID, p[paramFrom], p[paramTo], k.h.clock.Now())
}

// next reads until a message parses; false when the stream ends.
func (k *call) next(ctx context.Context) (mediastream.Envelope, bool) {
	for {
		typ, data, err := k.c.Read(ctx)
		if err != nil {
			return mediastream.Envelope{}, false
		}
		if k.flooded {
			continue // the session is ending: drain until the close handshake
		}
		if !k.limiter.Allow() {
			k.flooded = true
			k.log.Warn("media stream message rate exceeded", "max_messages_per_second", k.h.cfg.MaxMessagesPerSecond)
			if k.sess != nil {
				k.sess.Close(session.EndPolicyViolation, "message rate exceeded")
			} else {
				k.wc.Close(websocket.StatusCode(mediastream.ClosePolicyViolation), "message rate exceeded")
			}
			continue
		}
		if typ != websocket.MessageText {
			k.ignore(mediastream.ReasonBinary, "binary message")
			continue
		}
		env, err := k.h.dialect.Parse(data)
		var me *mediastream.Error
		if errors.As(err, &me) {
			k.ignore(me.Reason, me.Detail)
			continue
		}
		return env, true
	}
}

// run moves the stream into the session until it ends.
func (k *call) run(ctx context.Context, sess *session.Session, st mediastream.Start) {
	for {
		env, ok := k.next(ctx)
		if !ok {
			return
		}
		if env.StreamID != "" && env.StreamID != st.StreamID {
			k.ignore(mediastream.ReasonStreamMismatch, "message for stream "+env.StreamID)
			continue
		}
		var err error
		switch m := env.Message.(type) {
		case mediastream.Media:
			if m.Track != "" && m.Track != inboundTrack {
				k.ignore(mediastream.ReasonOtherTrack, "track "+m.Track)
				continue
			}
			err = sess.HandleAudio(ctx, st.Law.Decode(make([]byte, 0, 2*len(m.Payload)), m.Payload))
		case mediastream.Mark:
			id, at, ok := mediastream.ParseMarkName(m.Name)
			if !ok {
				k.ignore(mediastream.ReasonBadMark, "mark "+m.Name+" is not one of ours")
				continue
			}
			err = sess.Handle(ctx, session.Played{ResponseID: id, At: at})
		case mediastream.DTMF:
			err = sess.Handle(ctx, session.DTMF{Digits: m.Digit, Format: k.h.cfg.DTMFText})
		case mediastream.Stop:
			k.log.Info("call stopped by the carrier")
			sess.Close(session.EndNormal, "call ended")
			return
		case mediastream.Start:
			k.ignore(mediastream.ReasonDuplicateStart, "second start")
		case mediastream.Connected:
		}
		if errors.Is(err, session.ErrConnClosed) {
			k.flooded = true // the session ended (end_session, idle): drain
		}
	}
}

// ignore counts a message that is dropped; the first of each reason is
// logged at Warn, the count at the end of the call.
func (k *call) ignore(r mediastream.Reason, detail string) {
	k.h.metrics.ignored.WithLabelValues(k.h.dialect.Name(), string(r)).Inc()
	k.mu.Lock()
	k.ignored[r]++
	first := k.ignored[r] == 1
	k.mu.Unlock()
	if first {
		k.log.Warn("media stream message ignored", "reason", string(r), "detail", detail)
	}
}

func (k *call) summary() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.ignored) == 0 {
		return
	}
	attrs := make([]any, 0, 2*len(k.ignored))
	for r, n := range k.ignored {
		attrs = append(attrs, "ignored_"+string(r), n)
	}
	k.log.Info("media stream ended with ignored messages", attrs...)
}

// onError logs the session's error events: the protocol has no way to
// show them to a caller.
func (k *call) onError(e session.Error) {
	k.log.Warn("session error during call", "code", string(e.Code), "message", e.Message)
}

// callSettings is the session update for calls to number to: its system
// prompt and voice, and the telephony VAD overrides.
func (h *Handler) callSettings(to string) (session.Update, bool) {
	var u session.Update
	set := false
	if n, ok := h.numbers[to]; ok {
		if n.SystemPrompt != "" {
			u.SystemPrompt, set = &n.SystemPrompt, true
		}
		if n.Voice != "" {
			u.Voice, set = &n.Voice, true
		}
	}
	v := h.cfg.VAD
	var vad session.VADUpdate
	if v.MinSilence > 0 {
		vad.MinSilence = &v.MinSilence
	}
	if v.MinSpeech > 0 {
		vad.MinSpeech = &v.MinSpeech
	}
	if v.ThresholdDB > 0 {
		vad.ThresholdDB = &v.ThresholdDB
	}
	if vad != (session.VADUpdate{}) {
		u.VAD, set = &vad, true
	}
	return u, set
}
