package webrtc

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/protocol/parleyv1"
	"github.com/parleyhq/parley/server/internal/session"
)

// Output tunables.
const (
	// frameDuration is the pacing interval and the audio per RTP packet.
	frameDuration = audio.FrameDuration
	// rtpTicksPerFrame advances the 48 kHz RTP clock by one 20 ms frame.
	rtpTicksPerFrame = audio.OpusFrameSamples
	// outputRate is the PCM rate the session sends us: the TTS's native
	// 16 kHz, which libopus encodes directly (no resample on either side).
	outputRate = audio.SampleRate
	// inputRate is the PCM rate we hand the session: libopus decodes
	// straight to it.
	inputRate = audio.SampleRate
	// audioQueueFrames bounds queued output audio (5 s); the session paces
	// at real time plus a small look-ahead, so it only fills if the pacer
	// is stuck.
	audioQueueFrames = 250
	// textQueueEvents bounds events queued for the data channel.
	textQueueEvents = 256
	// maxBufferedEvents is how many bytes the data channel may hold unsent
	// before the client counts as too slow.
	maxBufferedEvents = 1 << 20
	// lateAfter: a frame sent this long after its slot counts as late.
	lateAfter = frameDuration
	// sendLead is how long before its slot a packet leaves: the client's
	// jitter buffer holds one frame more (the first two frames of a spurt
	// go out together), and a pacer woken up to two frames late is still
	// in time for playout.
	sendLead = frameDuration
	// encoderIdle is how long the output queue stays dry before the pacer
	// gives its Opus encoder back to the handler's pool: longer than any
	// gap inside a reply, so a spurt keeps one encoder.
	encoderIdle = 250 * time.Millisecond
	// closeFlushTimeout bounds sending queued events when the session ends.
	closeFlushTimeout = 2 * time.Second
)

// outFrame is one queued 20 ms output frame and the flush generation it
// belongs to.
type outFrame struct {
	pcm []byte
	gen uint64
}

// conn implements session.Sink over a peer connection: events are encoded
// as parley.v1 JSON and go to the data channel through a bounded queue and
// one writer goroutine (held until the channel opens); audio goes through a
// bounded queue to a pacer that encodes Opus and writes one RTP packet per
// 20 ms.
type conn struct {
	log   *slog.Logger
	stats *counters
	track *webrtc.TrackLocalStaticRTP
	// events: the offer has a data channel; without one, events are dropped.
	events bool

	text  chan []byte
	audio chan outFrame
	// gen is the flush generation: frames queued before a flush are dropped.
	gen atomic.Uint64

	dcOnce sync.Once
	dcOpen chan struct{}
	dc     *webrtc.DataChannel

	// clock is the RTP timeline, used by one pacer at a time.
	clock spurtClock
	// paceCtx, encoders and spawn are set once by startPacing.
	paceCtx  context.Context //nolint:containedctx // the peer's lifetime.
	encoders *encoderPool
	spawn    func(func())

	mu sync.Mutex
	// pacing: a pacer goroutine is running (or about to).
	pacing  bool
	closed  bool
	end     session.EndReason
	reason  string
	closing chan struct{}
	// onClosed runs in a goroutine of its own once the conn is closed.
	onClosed func()
	// written is closed when the event writer has finished.
	written chan struct{}
}

var _ session.Sink = (*conn)(nil)

func newConn(track *webrtc.TrackLocalStaticRTP, events bool, stats *counters, log *slog.Logger) *conn {
	return &conn{
		log: log, stats: stats, track: track, events: events, clock: newSpurtClock(),
		text: make(chan []byte, textQueueEvents), audio: make(chan outFrame, audioQueueFrames),
		dcOpen: make(chan struct{}), closing: make(chan struct{}), written: make(chan struct{}),
	}
}

// Event implements session.Sink. ResponseInterrupted flushes the queued
// audio at once (barge-in, cancel).
func (c *conn) Event(ev session.Event) error {
	if _, ok := ev.(session.ResponseInterrupted); ok {
		c.flush()
	}
	msg, ok := parleyv1.Encode(ev)
	if !ok {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return session.ErrConnClosed
	}
	if !c.events {
		return nil
	}
	select {
	case c.text <- msg:
		return nil
	default:
		c.closeLocked(session.EndSlowConsumer, "event queue full: client too slow")
		return session.ErrSendBufferFull
	}
}

// Audio implements session.Sink.
func (c *conn) Audio(pcm []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return session.ErrConnClosed
	}
	select {
	case c.audio <- outFrame{pcm: pcm, gen: c.gen.Load()}:
		c.startPacerLocked()
		return nil
	default:
		c.closeLocked(session.EndSlowConsumer, "audio queue full")
		return session.ErrSendBufferFull
	}
}

// flush drops all queued audio, including a frame the pacer is holding.
func (c *conn) flush() {
	c.gen.Add(1)
	for {
		select {
		case <-c.audio:
		default:
			return
		}
	}
}

// Close implements session.Sink.
func (c *conn) Close(end session.EndReason, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeLocked(end, reason)
}

func (c *conn) closeLocked(end session.EndReason, reason string) {
	if c.closed {
		return
	}
	c.closed, c.end, c.reason = true, end, reason
	close(c.closing)
	if c.onClosed != nil {
		go c.onClosed()
	}
}

// whenClosed has fn run in a goroutine of its own once the conn is closed
// (at once if it is): no goroutine waits for it meanwhile.
func (c *conn) whenClosed(fn func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		go fn()
		return
	}
	c.onClosed = fn
}

// closeInfo returns why and how the conn was closed.
func (c *conn) closeInfo() (session.EndReason, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.end, c.reason
}

// attach sets the events data channel (the first one that opens).
func (c *conn) attach(dc *webrtc.DataChannel) {
	c.dcOnce.Do(func() {
		c.dc = dc
		close(c.dcOpen)
	})
}

// writeEvents is the event writer goroutine: it waits for the data channel
// to open, then sends queued events until the conn closes, and the rest of
// the queue after that (bounded by closeFlushTimeout).
func (c *conn) writeEvents() {
	defer close(c.written)
	select {
	case <-c.dcOpen:
	case <-c.closing:
		return
	}
	for {
		select {
		case msg := <-c.text:
			if !c.sendEvent(msg) {
				return
			}
		case <-c.closing:
			deadline := time.Now().Add(closeFlushTimeout)
			for time.Now().Before(deadline) {
				select {
				case msg := <-c.text:
					if !c.sendEvent(msg) {
						return
					}
				default:
					return
				}
			}
			return
		}
	}
}

func (c *conn) sendEvent(msg []byte) bool {
	if err := c.dc.SendText(string(msg)); err != nil {
		c.log.Info("data channel send failed", "error", err)
		c.Close(session.EndNormal, "data channel closed")
		return false
	}
	if c.dc.BufferedAmount() > maxBufferedEvents {
		c.Close(session.EndSlowConsumer, "data channel buffer full: client too slow")
		return false
	}
	return true
}

// spurtClock places a stream's packets on the RTP timeline (RFC 7587
// §4.1, RFC 3550 §5.1): each packet has a slot 20 ms after the previous
// one and leaves sendLead before it; a frame that comes after its slot
// within half a frame still keeps the grid (the next ones catch up, so the
// stream does not drift behind its RTP clock); later, the queue ran dry: a
// new talk spurt starts with the marker bit and the RTP timestamp moves on
// by the wall time since the previous packet. It outlives a pacer
// goroutine: the next spurt continues the sequence numbers.
type spurtClock struct {
	seq      uint16
	ts       uint32
	prevSlot time.Time
	next     time.Time
}

func newSpurtClock() spurtClock {
	return spurtClock{
		seq: uint16(rand.Uint32()), //nolint:gosec // RTP start values need not be secret.
		ts:  rand.Uint32(),         //nolint:gosec // as above.
	}
}

// place returns the slot of a frame ready at now, when to send it (the
// slot less sendLead, never before now) and whether it starts a talk spurt.
func (k *spurtClock) place(now time.Time) (slot, sendAt time.Time, marker bool) {
	switch {
	case k.prevSlot.IsZero():
		k.next, marker = now, true
	case now.After(k.next):
		if gap := (now.Sub(k.prevSlot) + frameDuration/2) / frameDuration; gap > 1 {
			k.ts += uint32(gap-1) * rtpTicksPerFrame
			k.next, marker = now, true
		}
	}
	sendAt = k.next.Add(-sendLead)
	if sendAt.Before(now) {
		sendAt = now
	}
	return k.next, sendAt, marker
}

// header returns the RTP header of the packet placed last.
func (k *spurtClock) header(marker bool) rtp.Header {
	return rtp.Header{Version: rtpVersion, Marker: marker, SequenceNumber: k.seq, Timestamp: k.ts}
}

// sent moves the clock past the packet placed last.
func (k *spurtClock) sent() {
	k.seq++
	k.ts += rtpTicksPerFrame
	k.prevSlot = k.next
	k.next = k.next.Add(frameDuration)
}

// startPacing sets what the pacer needs: it runs on spawn (a goroutine the
// peer owns) while the session speaks, borrowing its Opus encoder from
// encoders, until ctx ends.
func (c *conn) startPacing(ctx context.Context, encoders *encoderPool, spawn func(func())) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.paceCtx, c.encoders, c.spawn = ctx, encoders, spawn
	c.startPacerLocked() // audio the session sent before the peer started
}

// startPacerLocked starts a pacer when audio is queued, none is running
// and startPacing has run. Caller holds mu.
func (c *conn) startPacerLocked() {
	if c.pacing || c.spawn == nil || len(c.audio) == 0 {
		return
	}
	c.pacing = true
	c.spawn(c.pace)
}

// pace is the audio pacer goroutine: one Opus RTP packet per 20 ms while
// audio is queued, on the spurt clock. It starts with the first frame of a
// reply (conn.Audio) and, once the queue has been dry for encoderIdle,
// gives its Opus encoder back to the pool and ends: a listening session
// holds neither.
func (c *conn) pace() {
	var (
		ctx     = c.paceCtx
		samples = make([]int16, 0, audio.FrameSamples)
		payload = make([]byte, 0, audio.OpusMaxPacketBytes)
		timer   = time.NewTimer(time.Hour)
		idle    = time.NewTimer(time.Hour)
		enc     *audio.OpusEncoder
	)
	timer.Stop()
	idle.Stop()
	defer timer.Stop()
	defer idle.Stop()
	defer func() {
		if enc != nil {
			c.encoders.put(enc)
		}
	}()
	for {
		var f outFrame
		select {
		case f = <-c.audio:
		case <-ctx.Done():
			return
		default:
			// The queue is dry: wait; if it stays dry the reply is over
			// (the next one is a new spurt, with a new pacer).
			idle.Reset(encoderIdle)
			select {
			case f = <-c.audio:
				idle.Stop()
			case <-idle.C:
				if c.stopPacing() {
					return
				}
				continue
			case <-ctx.Done():
				return
			}
		}
		if f.gen != c.gen.Load() {
			continue
		}
		var err error
		if enc == nil {
			if enc, err = c.encoders.take(); err != nil {
				c.log.Warn("no opus encoder; dropping an output frame", "error", err)
				continue
			}
		}
		// Encode before waiting: the packet leaves right on its time.
		if samples, err = audio.DecodePCM16LE(samples[:0], f.pcm); err == nil && len(samples) == enc.FrameSamples() {
			payload, err = enc.Encode(payload[:0], samples)
		}
		if err != nil || len(samples) != enc.FrameSamples() {
			c.log.Warn("dropping an output frame", "samples", len(samples), "error", err)
			continue
		}
		slot, sendAt, marker := c.clock.place(time.Now())
		if d := time.Until(sendAt); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		}
		if f.gen != c.gen.Load() {
			continue // flushed while waiting for its slot
		}
		if time.Since(slot) > lateAfter {
			c.stats.lateFrames.Add(1)
		}
		if err := c.track.WriteRTP(&rtp.Packet{Header: c.clock.header(marker), Payload: payload}); err != nil {
			c.log.Debug("rtp write failed", "error", err)
		}
		c.stats.framesSent.Add(1)
		c.clock.sent()
	}
}

// stopPacing ends the pacer unless audio came in the meantime (conn.Audio
// queues under mu, so a frame is either seen here or starts a new pacer).
func (c *conn) stopPacing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.audio) > 0 {
		return false
	}
	c.pacing = false
	return true
}

// rtpVersion is the RTP version field (RFC 3550).
const rtpVersion = 2
