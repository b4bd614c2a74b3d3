package loadtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/logging"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/parleyhq/parley/server/internal/audio"
)

// WebRTC signaling and media, as the browser client does it.
const (
	// offerPath is where the SDP offer is posted (the server's
	// webrtc.OfferPath; a test checks they agree).
	offerPath = "/v1/webrtc/offer"
	// eventsLabel is the data channel carrying parley.v1 JSON events.
	eventsLabel = "events"
	// opusPayloadType, opusChannels and opusFmtp are what a browser offers.
	opusPayloadType = 111
	opusChannels    = 2
	opusFmtp        = "minptime=10;useinbandfec=1"
	// maxAnswerBytes bounds the server's answer (or error) body.
	maxAnswerBytes = 64 << 10
	// rtpReadBuffer holds one RTP packet.
	rtpReadBuffer = 1500
	// inboxSize buffers received messages between pion's readers and the caller.
	inboxSize = 256
	// dtxHangover is how many silent frames a DTX sender still sends in
	// full before it pauses, and dtxEvery how often it then sends one
	// (libwebrtc's Opus DTX: a comfort-noise packet every 400 ms).
	dtxHangover = 10
	dtxEvery    = 20
	// rtpVersion is the RTP version field (RFC 3550).
	rtpVersion = 2
	// rtcJitterMargin is the slack, beyond one frame, that an agent packet
	// may arrive after its playout time before it counts as late: UDP
	// packets are not smoothed by a TCP stream, and a browser's jitter
	// buffer holds at least this much.
	rtcJitterMargin = 20 * time.Millisecond
)

// Errors of a WebRTC session.
var (
	errPeerFailed = errors.New("peer connection failed")
	errDCClosed   = errors.New("events data channel closed by server")
)

// rtcTransport is WebRTC: an Opus track each way and the events data
// channel, signaled with one POST of the offer.
type rtcTransport struct {
	cfg    *Config
	offer  string
	api    *webrtc.API
	client *http.Client
}

func newRTCTransport(cfg *Config) (transport, frames, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, frames{}, fmt.Errorf("%w: --url %q: %w", ErrInvalidConfig, cfg.URL, err)
	}
	u.Path, u.RawQuery = strings.TrimSuffix(u.Path, "/")+offerPath, ""
	f, err := opusFrames(cfg.Speech)
	if err != nil {
		return nil, frames{}, errTransport(TransportWebRTC, err)
	}
	me := &webrtc.MediaEngine{}
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeOpus, ClockRate: audio.OpusSampleRate, Channels: opusChannels, SDPFmtpLine: opusFmtp,
		},
		PayloadType: opusPayloadType,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, frames{}, errTransport(TransportWebRTC, err)
	}
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled
	se := webrtc.SettingEngine{LoggerFactory: lf}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if !cfg.AllowRemote {
		// ICE over loopback only, like the target.
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se))
	return &rtcTransport{cfg: cfg, offer: u.String(), api: api, client: &http.Client{}}, f, nil
}

// opusFrames resamples the 16 kHz question to 48 kHz and encodes it as
// 20 ms Opus packets, as a browser sends it, plus one packet of silence.
func opusFrames(speech []int16) (frames, error) {
	up, err := audio.NewResampler(audio.SampleRate, audio.OpusSampleRate)
	if err != nil {
		return frames{}, err
	}
	s := up.Flush(up.Process(nil, speech))
	enc, err := audio.NewOpusEncoder(audio.OpusSampleRate)
	if err != nil {
		return frames{}, err
	}
	fs := enc.FrameSamples()
	if rem := len(s) % fs; rem != 0 {
		s = append(s, make([]int16, fs-rem)...)
	}
	var f frames
	for ; len(s) >= fs; s = s[fs:] {
		p, err := enc.Encode(nil, s[:fs])
		if err != nil {
			return frames{}, err
		}
		f.question = append(f.question, p)
	}
	if f.silence, err = enc.Encode(nil, make([]int16, fs)); err != nil {
		return frames{}, err
	}
	return f, nil
}

// lateMargin: one frame plus the jitter a browser's buffer absorbs.
func (t *rtcTransport) lateMargin() time.Duration { return audio.FrameDuration + rtcJitterMargin }

func (t *rtcTransport) dial(ctx context.Context) (voiceConn, error) {
	hctx, cancel := context.WithTimeout(ctx, t.cfg.TurnTimeout)
	defer cancel()
	pc, err := t.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("peer connection: %w", err)
	}
	c := &rtcConn{pc: pc, in: make(chan message, inboxSize), done: make(chan struct{}), closed: make(chan struct{})}
	if err := c.setUp(); err != nil {
		c.closeNow()
		return nil, err
	}
	if err := t.connect(hctx, c); err != nil {
		c.closeNow()
		return nil, err
	}
	return c, nil
}

// connect signals, waits for the data channel and its connection.established.
func (t *rtcTransport) connect(ctx context.Context, c *rtcConn) error {
	offer, err := c.pc.CreateOffer(nil)
	if err != nil {
		return fmt.Errorf("create offer: %w", err)
	}
	gathered := webrtc.GatheringCompletePromise(c.pc)
	if err := c.pc.SetLocalDescription(offer); err != nil {
		return fmt.Errorf("set offer: %w", err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return fmt.Errorf("gather candidates: %w", ctx.Err())
	}
	answer, err := t.post(ctx, c.pc.LocalDescription().SDP)
	if err != nil {
		return err
	}
	if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		return fmt.Errorf("set answer: %w", err)
	}
	c.dtx = asksDTX(answer)
	m, err := c.recv(ctx)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if m.audio || !isEstablished(m.data) {
		return fmt.Errorf("%w: %.200s", ErrHandshake, m.data)
	}
	return nil
}

// asksDTX reports whether an answer's Opus format parameters ask for
// discontinuous transmission (usedtx=1, RFC 7587 §7).
func asksDTX(sdp string) bool {
	for line := range strings.Lines(sdp) {
		params, ok := strings.CutPrefix(strings.TrimSpace(line), "a=fmtp:"+strconv.Itoa(opusPayloadType)+" ")
		if !ok {
			continue
		}
		for p := range strings.SplitSeq(params, ";") {
			if k, v, _ := strings.Cut(strings.TrimSpace(p), "="); k == "usedtx" && v == "1" {
				return true
			}
		}
	}
	return false
}

// post sends the offer as the browser does (application/sdp, the ws
// caller's Authorization header) and returns the answer.
func (t *rtcTransport) post(ctx context.Context, sdp string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.offer, bytes.NewReader([]byte(sdp)))
	if err != nil {
		return "", fmt.Errorf("offer: %w", err)
	}
	req.Header.Set("Content-Type", "application/sdp")
	if t.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+t.cfg.Token)
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("offer: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return "", fmt.Errorf("offer: read answer: %w", err)
	}
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("offer: HTTP %d: %.200s", resp.StatusCode, body)
	}
	return string(body), nil
}

// rtcConn is one WebRTC session: pion's callbacks feed in, the caller reads it.
type rtcConn struct {
	pc    *webrtc.PeerConnection
	track *webrtc.TrackLocalStaticRTP
	dc    *webrtc.DataChannel
	// dtx: the answer asked for usedtx=1, so silence is sent as a browser
	// in DTX sends it. Owned by the sending goroutine from here on: the
	// RTP sequence number, timestamp and the silent frames in a row.
	dtx    bool
	seq    uint16
	ts     uint32
	silent int
	// pausedBefore: the previous packet was sent during a DTX pause.
	pausedBefore bool
	pkt          rtp.Packet

	in chan message
	// done is closed when the server ends the session (err says how).
	done     chan struct{}
	doneOnce sync.Once
	err      error
	// closed is closed by closeNow, to release pion's callbacks.
	closed    chan struct{}
	closeOnce sync.Once
	// readers are the track readers started by OnTrack.
	readers sync.WaitGroup
	mu      sync.Mutex
	hungUp  bool
}

// setUp adds the microphone track and the events channel and wires pion's callbacks.
func (c *rtcConn) setUp() error {
	var err error
	c.track, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeOpus, ClockRate: audio.OpusSampleRate, Channels: opusChannels,
	}, "mic", "loadtest")
	if err != nil {
		return fmt.Errorf("track: %w", err)
	}
	if _, err := c.pc.AddTransceiverFromTrack(c.track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv}); err != nil {
		return fmt.Errorf("add track: %w", err)
	}
	if c.dc, err = c.pc.CreateDataChannel(eventsLabel, nil); err != nil {
		return fmt.Errorf("data channel: %w", err)
	}
	c.dc.OnMessage(func(m webrtc.DataChannelMessage) {
		c.push(message{at: time.Now(), data: m.Data})
	})
	c.dc.OnClose(func() { c.end(errDCClosed) })
	c.pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateFailed || s == webrtc.PeerConnectionStateClosed {
			c.end(fmt.Errorf("%w: %s", errPeerFailed, s))
		}
	})
	c.pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		c.mu.Lock()
		if c.hungUp {
			c.mu.Unlock()
			return
		}
		c.readers.Add(1)
		c.mu.Unlock()
		defer c.readers.Done()
		c.readTrack(tr)
	})
	return nil
}

// readTrack turns each agent RTP packet into 20 ms of audio (the server's
// Opus frames) until the track ends.
func (c *rtcConn) readTrack(tr *webrtc.TrackRemote) {
	buf := make([]byte, rtpReadBuffer)
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			return
		}
		// The marker is bit 7 of the RTP header's second byte.
		c.push(message{at: time.Now(), audio: true, d: audio.FrameDuration, spurt: n >= 2 && buf[1]&0x80 != 0})
	}
}

// push hands a message to the caller; nothing is dropped while it reads.
func (c *rtcConn) push(m message) {
	select {
	case c.in <- m:
	case <-c.closed:
	}
}

// end records that the session ended, the first reason wins.
func (c *rtcConn) end(err error) {
	c.doneOnce.Do(func() {
		c.err = err
		close(c.done)
	})
}

// send writes one 20 ms Opus packet. With DTX, a silent frame after the
// hangover goes out only every dtxEvery frames: the sequence numbers stay
// contiguous, the timestamp moves on by the frames not sent, and the first
// packet after a pause carries the marker bit (RFC 7587 §3.1.3).
func (c *rtcConn) send(_ context.Context, frame []byte, silent bool) (bool, error) {
	if !silent {
		c.silent = 0
	} else {
		c.silent++
	}
	paused := c.dtx && c.silent > dtxHangover
	if paused && (c.silent-dtxHangover)%dtxEvery != 1 {
		c.ts += audio.OpusFrameSamples
		return false, nil
	}
	c.pkt.Header = rtp.Header{
		Version: rtpVersion, PayloadType: opusPayloadType, SequenceNumber: c.seq, Timestamp: c.ts,
		Marker: !paused && c.pausedBefore,
	}
	c.pausedBefore = paused
	c.pkt.Payload = frame
	c.seq++
	c.ts += audio.OpusFrameSamples
	if err := c.track.WriteRTP(&c.pkt); err != nil {
		return false, fmt.Errorf("send audio: %w", err)
	}
	return true, nil
}

func (c *rtcConn) recv(ctx context.Context) (message, error) {
	// Messages that came before the end are read first.
	select {
	case m := <-c.in:
		return m, nil
	default:
	}
	select {
	case m := <-c.in:
		return m, nil
	case <-c.done:
		return message{}, fmt.Errorf("closed by server: %w", c.err)
	case <-ctx.Done():
		return message{}, fmt.Errorf("read: %w", ctx.Err())
	}
}

// hangUp closes the peer connection, as a browser tab that hangs up does.
func (c *rtcConn) hangUp() error {
	c.closeNow()
	return nil
}

func (c *rtcConn) closeNow() {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.hungUp = true
		c.mu.Unlock()
		close(c.closed)
		_ = c.pc.GracefulClose()
		c.readers.Wait()
	})
}
