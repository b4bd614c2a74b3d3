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

	mu      sync.Mutex
	closed  bool
	end     session.EndReason
	reason  string
	closing chan struct{}
	// written is closed when the event writer has finished.
	written chan struct{}
}

var _ session.Sink = (*conn)(nil)

func newConn(track *webrtc.TrackLocalStaticRTP, events bool, stats *counters, log *slog.Logger) *conn {
	return &conn{
		log: log, stats: stats, track: track, events: events,
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

// pace is the audio pacer goroutine: one Opus RTP packet per 20 ms while
// audio is queued, nothing while it is not. After a pause the RTP
// timestamp jumps by the time that passed and the marker bit starts the
// new talk spurt (RFC 7587 §4.1, RFC 3550 §5.1). The Opus encoder is
// borrowed from encoders while the session speaks and given back once the
// queue has been dry for encoderIdle.
func (c *conn) pace(ctx context.Context, encoders *encoderPool) {
	var (
		seq      = uint16(rand.Uint32()) //nolint:gosec // RTP start values need not be secret.
		ts       = rand.Uint32()         //nolint:gosec // as above.
		prevSlot time.Time
		next     time.Time
		samples  = make([]int16, 0, audio.FrameSamples)
		payload  = make([]byte, 0, audio.OpusMaxPacketBytes)
		timer    = time.NewTimer(time.Hour)
		idle     = time.NewTimer(time.Hour)
		enc      *audio.OpusEncoder
	)
	timer.Stop()
	idle.Stop()
	defer timer.Stop()
	defer idle.Stop()
	defer func() {
		if enc != nil {
			encoders.put(enc)
		}
	}()
	for {
		var f outFrame
		select {
		case f = <-c.audio:
		case <-ctx.Done():
			return
		default:
			// The queue is dry: wait, and give the encoder back if it
			// stays dry (the reply is over; the next one is a new spurt).
			if enc != nil {
				idle.Reset(encoderIdle)
			}
			select {
			case f = <-c.audio:
			case <-idle.C:
				encoders.put(enc)
				enc = nil
				select {
				case f = <-c.audio:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
			idle.Stop()
		}
		if f.gen != c.gen.Load() {
			continue
		}
		var err error
		if enc == nil {
			if enc, err = encoders.take(); err != nil {
				c.log.Warn("no opus encoder; dropping an output frame", "error", err)
				continue
			}
		}
		// Encode before waiting: the packet leaves right on its slot.
		if samples, err = audio.DecodePCM16LE(samples[:0], f.pcm); err == nil && len(samples) == enc.FrameSamples() {
			payload, err = enc.Encode(payload[:0], samples)
		}
		if err != nil || len(samples) != enc.FrameSamples() {
			c.log.Warn("dropping an output frame", "samples", len(samples), "error", err)
			continue
		}
		now := time.Now()
		marker := false
		switch {
		case prevSlot.IsZero():
			next, marker = now, true
		case now.After(next):
			// The frame came after its slot. Within half a frame of it, it
			// goes out now and the grid stays (the next ones catch up, so
			// the stream does not drift behind its RTP clock). Later, the
			// queue ran dry: a new talk spurt starts now and the RTP clock
			// moves on by the wall time since the previous packet.
			if gap := (now.Sub(prevSlot) + frameDuration/2) / frameDuration; gap > 1 {
				ts += uint32(gap-1) * rtpTicksPerFrame
				next, marker = now, true
			}
		}
		if d := time.Until(next); d > 0 {
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
		if time.Since(next) > lateAfter {
			c.stats.lateFrames.Add(1)
		}
		pkt := &rtp.Packet{
			Header:  rtp.Header{Version: rtpVersion, Marker: marker, SequenceNumber: seq, Timestamp: ts},
			Payload: payload,
		}
		if err := c.track.WriteRTP(pkt); err != nil {
			c.log.Debug("rtp write failed", "error", err)
		}
		c.stats.framesSent.Add(1)
		seq++
		ts += rtpTicksPerFrame
		prevSlot = next
		next = next.Add(frameDuration)
	}
}

// rtpVersion is the RTP version field (RFC 3550).
const rtpVersion = 2
