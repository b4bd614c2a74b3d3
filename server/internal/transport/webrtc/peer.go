package webrtc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/pion/datachannel"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/protocol/parleyv1"
	"github.com/parleyhq/parley/server/internal/session"
)

// Peer tunables.
const (
	// eventsLabel is the label of the data channel carrying JSON events.
	eventsLabel = "events"
	// maxEventBytes caps one data channel message from the client.
	maxEventBytes = 64 << 10
	// eventReadBuffer is the events channel's read buffer (client events
	// are small); maxReadBytes the most it grows to for one message: pion's
	// SCTP receive buffer, which no message can exceed.
	eventReadBuffer = 4 << 10
	maxReadBytes    = 1 << 20
	// jitterDepth is how many packets the reorder buffer holds while one is
	// missing: two 20 ms frames of added latency at most.
	jitterDepth = 2
	// maxConcealFrames caps concealment of one loss burst (100 ms); longer
	// gaps are left out rather than filled with synthetic audio.
	maxConcealFrames = 5
	// gatherTimeout bounds ICE gathering before the answer is sent.
	gatherTimeout = 5 * time.Second
	// rtpReadBuffer holds one received RTP packet (at most an MTU).
	rtpReadBuffer = 1500
	// trackID and streamID name Parley's outgoing audio track.
	trackID  = "parley-audio"
	streamID = "parley"
)

// peer is one client's peer connection and the goroutines serving it.
type peer struct {
	h       *Handler
	pc      *webrtc.PeerConnection
	conn    *conn
	log     *slog.Logger
	sessLog *slog.Logger
	stats   *counters

	ctx     context.Context //nolint:containedctx // the peer's lifetime, cancelled by supervise.
	cancel  context.CancelFunc
	started chan struct{}
	sess    *session.Session
	done    chan struct{}

	mu      sync.Mutex
	stopped bool
	wg      sync.WaitGroup
}

// newPeer creates the peer connection for an offer and returns it with
// the answer SDP (gathering complete: all candidates are in it). Its ICE
// servers get fresh TURN credentials for user. The peer's goroutines
// live until pcancel; ctx bounds the negotiation.
func (h *Handler) newPeer(ctx, pctx context.Context, pcancel context.CancelFunc, offer string, info offerInfo,
	user string, log *slog.Logger,
) (*peer, string, error) {
	servers, _, err := h.ice.issue(user, h.mgr.Clock().Now())
	if err != nil {
		return nil, "", err
	}
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeOpus, ClockRate: opusRTPClock, Channels: opusChannels,
	}, trackID, streamID)
	if err != nil {
		return nil, "", fmt.Errorf("webrtc: local track: %w", err)
	}
	pc, err := h.api.NewPeerConnection(webrtc.Configuration{ICEServers: pionICEServers(servers)})
	if err != nil {
		return nil, "", fmt.Errorf("webrtc: new peer connection: %w", err)
	}
	p := &peer{
		h: h, pc: pc, log: log, stats: &h.stats, ctx: pctx, cancel: pcancel,
		started: make(chan struct{}), done: make(chan struct{}),
	}
	p.conn = newConn(track, info.dataChannel, &h.stats, log)
	pc.OnConnectionStateChange(p.onState)
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		if tr.Kind() == webrtc.RTPCodecTypeAudio {
			p.run(func() { p.receive(tr) })
		}
	})
	pc.OnDataChannel(p.onDataChannel)
	answer, err := p.negotiate(ctx, offer, track)
	if err != nil {
		p.abort()
		return nil, "", err
	}
	return p, answer, nil
}

// negotiate applies the offer and returns the answer.
func (p *peer) negotiate(ctx context.Context, offer string, track *webrtc.TrackLocalStaticRTP) (string, error) {
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", badRequest(http.StatusBadRequest, codeInvalidSDP, ErrBadOffer, "offer refused: "+err.Error(), nil)
	}
	sender, err := p.pc.AddTrack(track)
	if err != nil {
		return "", fmt.Errorf("webrtc: add track: %w", err)
	}
	// Read RTCP from the client so the interceptors see its reports.
	p.run(func() {
		for {
			if _, _, err := sender.ReadRTCP(); err != nil {
				return
			}
		}
	})
	answer, err := p.pc.CreateAnswer(nil)
	if err != nil {
		return "", badRequest(http.StatusUnprocessableEntity, codeUnsupportedOffer, ErrUnsupportedOffer,
			"no answer to this offer: "+err.Error(), nil)
	}
	gathered := webrtc.GatheringCompletePromise(p.pc)
	if err := p.pc.SetLocalDescription(answer); err != nil {
		return "", fmt.Errorf("webrtc: set local description: %w", err)
	}
	gctx, cancel := context.WithTimeout(ctx, gatherTimeout)
	defer cancel()
	select {
	case <-gathered:
	case <-gctx.Done():
		if ctx.Err() != nil {
			return "", fmt.Errorf("webrtc: gathering: %w", ctx.Err())
		}
		p.log.Warn("ICE gathering incomplete; answering with the candidates found so far")
	}
	// pion answers with the offer's Opus parameters (and takes no edited
	// local description); the client is asked for DTX on top of them in the
	// answer it gets: the answer's fmtp is what the server wants to receive
	// (RFC 7587 §7), and nothing in pion depends on it.
	if !p.h.cfg.DTX {
		return p.pc.LocalDescription().SDP, nil
	}
	return withDTX(p.pc.LocalDescription().SDP), nil
}

// run starts a goroutine owned by the peer unless it is stopping.
func (p *peer) run(fn func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		fn()
	}()
}

// start hands the peer its session and starts the output goroutines.
func (p *peer) start(sess *session.Session) {
	p.sess = sess
	// Only goroutines started from here on read sessLog; pion callbacks use log.
	p.sessLog = p.log.With("session_id", string(sess.ID()))
	close(p.started)
	p.run(p.conn.writeEvents)
	p.conn.startPacing(p.ctx, p.h.encoders, p.run)
}

// abort releases a peer that never got (or lost) its session.
func (p *peer) abort() {
	p.conn.Close(session.EndInternal, "aborted")
	p.stop()
}

// stop cancels the peer's work, closes the peer connection and waits for
// its goroutines.
func (p *peer) stop() {
	p.cancel()
	if err := p.pc.Close(); err != nil {
		p.log.Debug("peer connection close", "error", err)
	}
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
	p.wg.Wait()
}

// supervise runs at the end (session end, ICE failure, peer close,
// DELETE, drain: the conn closed), ends the session and releases
// everything.
func (p *peer) supervise() {
	<-p.conn.closing
	end, reason := p.conn.closeInfo()
	p.sessLog.Info("webrtc session closing", "end_reason", end.String(), "close_code", int(parleyv1.CloseCodeFor(end)), "reason", reason)
	p.sess.Close(end, reason)
	<-p.sess.Done()
	// Let the last events (an error, response.interrupted) reach the
	// client before the data channel goes.
	flushed := time.NewTimer(closeFlushTimeout)
	select {
	case <-p.conn.written:
	case <-flushed.C:
	}
	flushed.Stop()
	p.stop()
}

// onState ends the session when the connection fails or the peer closes it.
func (p *peer) onState(s webrtc.PeerConnectionState) {
	p.log.Debug("peer connection state", "state", s.String())
	switch s {
	case webrtc.PeerConnectionStateFailed:
		p.conn.Close(session.EndNormal, "ICE connection failed (peer unreachable)")
	case webrtc.PeerConnectionStateClosed:
		p.conn.Close(session.EndNormal, "peer connection closed")
	default:
	}
}

// awaitSession returns the session once started, nil if the peer ended first.
func (p *peer) awaitSession() *session.Session {
	select {
	case <-p.started:
		return p.sess
	case <-p.ctx.Done():
		return nil
	}
}

func (p *peer) onDataChannel(dc *webrtc.DataChannel) {
	if dc.Label() != eventsLabel {
		p.log.Info("ignoring data channel", "label", dc.Label())
		return
	}
	dc.OnOpen(func() {
		raw, err := dc.Detach()
		if err != nil {
			p.log.Info("events data channel not usable", "error", err)
			return
		}
		p.conn.attach(dc)
		p.run(func() { p.readEvents(raw) })
	})
}

// readEvents is the events channel's read loop: one message at a time
// into a small buffer, doubled (up to maxReadBytes) while a message does
// not fit — pion leaves it queued — and back to small after it. It ends
// when the channel or the peer closes (or, for a message that does not fit
// even maxReadBytes, ends the session as message_too_big).
func (p *peer) readEvents(raw datachannel.ReadWriteCloser) {
	buf := make([]byte, eventReadBuffer)
	for {
		n, isString, err := raw.ReadDataChannel(buf)
		if errors.Is(err, io.ErrShortBuffer) && len(buf) < maxReadBytes {
			buf = make([]byte, 2*len(buf))
			continue
		}
		switch {
		case errors.Is(err, io.ErrShortBuffer):
			// Beyond what SCTP can even reassemble: not a client to serve.
			p.conn.Close(session.EndMessageTooBig, "data channel message over "+strconv.Itoa(maxReadBytes)+" bytes")
			return
		case err != nil:
			if !errors.Is(err, io.EOF) {
				p.log.Debug("events data channel read", "error", err)
			}
			return
		}
		// A copy: a parsed command may keep parts of the message.
		p.onMessage(webrtc.DataChannelMessage{IsString: isString, Data: append([]byte(nil), buf[:n]...)})
		if len(buf) > eventReadBuffer {
			buf = make([]byte, eventReadBuffer)
		}
	}
}

// onMessage passes one client event to the session; binary, oversized and
// rate-changing messages get an error event instead.
func (p *peer) onMessage(m webrtc.DataChannelMessage) {
	sess := p.awaitSession()
	if sess == nil {
		return
	}
	switch {
	case !m.IsString:
		sess.ReportError(parleyv1.CodeInvalidMessage, "data channel messages must be JSON text",
			map[string]string{"bytes": strconv.Itoa(len(m.Data))})
		return
	case len(m.Data) > maxEventBytes:
		sess.ReportError(parleyv1.CodeMessageTooLarge, "message exceeds "+strconv.Itoa(maxEventBytes)+" bytes",
			map[string]string{"max_bytes": strconv.Itoa(maxEventBytes), "bytes": strconv.Itoa(len(m.Data))})
		return
	}
	cmd, err := parleyv1.Parse(m.Data)
	var pe *parleyv1.ProtocolError
	if errors.As(err, &pe) {
		sess.ReportError(pe.Code, pe.Message, pe.Details)
		return
	}
	if field, bad := fixedRateViolation(cmd); bad {
		sess.ReportError(session.CodeUnsupportedSampleRate,
			"WebRTC audio is Opus; the session's PCM rates are fixed at "+strconv.Itoa(inputRate)+" Hz",
			map[string]string{"field": field})
		return
	}
	if err := sess.Handle(p.ctx, cmd); err != nil && !errors.Is(err, session.ErrConnClosed) {
		p.log.Debug("event not delivered", "error", err)
	}
}

// fixedRateViolation reports an update that would change the PCM rates,
// which the Opus edge fixes.
func fixedRateViolation(cmd session.Command) (string, bool) {
	u, ok := cmd.(session.Update)
	if !ok {
		return "", false
	}
	if u.InputRate != nil && *u.InputRate != inputRate {
		return "input_sample_rate", true
	}
	if u.OutputRate != nil && *u.OutputRate != outputRate {
		return "output_sample_rate", true
	}
	return "", false
}

// receive is the inbound audio goroutine: RTP → reorder buffer → Opus
// decode straight to 16 kHz (FEC or PLC for lost packets) → session. It
// reads into one buffer and reuses its packet and PCM buffers: no
// allocation per packet but the PCM the session takes. While the client is
// in DTX the handler's filler gives the session silence (dtx.go).
func (p *peer) receive(tr *webrtc.TrackRemote) {
	sess := p.awaitSession()
	if sess == nil {
		return
	}
	dec, err := audio.NewOpusDecoder(inputRate)
	if err != nil {
		p.log.Error("opus decoder", "error", err)
		return
	}
	rx := &rxState{
		deliver:     func(pcm []byte) error { return sess.HandleAudio(p.ctx, pcm) },
		offer:       sess.OfferAudio,
		filledTotal: &p.stats.silenceFilled,
	}
	p.h.filler.add(rx)
	defer p.h.filler.remove(rx)
	jb := newJitterBuffer(jitterDepth)
	var pcm []int16
	lostRun := 0
	emit := func(payload []byte, lost bool, next []byte) {
		var err error
		if lost {
			lostRun++
			p.stats.packetsLost.Add(1)
			if lostRun > maxConcealFrames {
				return
			}
			pcm, err = dec.Conceal(pcm, next, audio.FrameSamples)
		} else {
			lostRun = 0
			pcm, err = dec.Decode(pcm, payload)
		}
		if err != nil {
			p.stats.badPackets.Add(1)
			p.log.Debug("opus decode", "error", err)
		}
	}
	buf := make([]byte, rtpReadBuffer)
	var pkt rtp.Packet
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			return
		}
		if err := pkt.Unmarshal(buf[:n]); err != nil || len(pkt.Payload) == 0 {
			continue
		}
		p.stats.packetsIn.Add(1)
		if !p.deliver(rx, jb, &pkt, &pcm, emit) {
			return
		}
	}
}

// deliver decodes one packet (and any it releases from the reorder
// buffer) and hands the PCM to the session, under rx's lock so the
// filler's silence and the decoded audio stay in order. It reports false
// once the session no longer takes audio.
func (p *peer) deliver(rx *rxState, jb *jitterBuffer, pkt *rtp.Packet, pcm *[]int16, emit jitterOut) bool {
	rx.mu.Lock()
	defer rx.mu.Unlock()
	if rx.closed {
		return false
	}
	rx.packet(time.Now(), pkt.SequenceNumber, pkt.Timestamp)
	if rx.closed {
		return false
	}
	before := jb.late + jb.dup
	*pcm = (*pcm)[:0]
	jb.push(pkt.SequenceNumber, pkt.Payload, emit)
	if d := jb.late + jb.dup - before; d > 0 {
		p.stats.packetsLate.Add(d)
	}
	if len(*pcm) == 0 {
		return true
	}
	rx.frame((*pcm)[max(0, len(*pcm)-audio.FrameSamples):])
	if err := rx.deliver(audio.EncodePCM16LE(nil, *pcm)); err != nil {
		rx.closed = true
		return false
	}
	return true
}
