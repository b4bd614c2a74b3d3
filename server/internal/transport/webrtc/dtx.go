package webrtc

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleyhq/parley/server/internal/audio"
)

// Discontinuous transmission (DTX, RFC 7587 §3.1.3). Parley's answer asks
// the client for usedtx=1: in silence a browser then sends one small
// comfort-noise packet every 400 ms instead of fifty full packets a second,
// with contiguous sequence numbers and a jump in the RTP timestamp. Those
// silent stretches cost the server no SRTP, no Opus decode and (see the
// Silero engine) no model inference. The session's timeline is driven by
// the frames it is given (end of turn, barge-in and idle timers count
// them), so the silence must still reach it at real time: a filler gives
// each receiving peer digital-silence frames while its packets are paused.
const (
	// dtxHoldFrames is how long packets must have paused before silence is
	// filled in (the frames owed are then given at once): longer than the
	// jitter of a live stream.
	dtxHoldFrames = 3
	// dtxMaxFillFrames bounds the silence filled after one packet (1 s). A
	// client in DTX sends every 400 ms; one that sends nothing for longer
	// has stopped its track, and the session sees nothing more, as before.
	dtxMaxFillFrames = 50
	// quietPeak is the sample peak below which a decoded frame counts as
	// silence (−40 dBFS): only a pause that follows a quiet frame is filled,
	// so a network stall in the middle of speech is never papered over.
	quietPeak = 328
)

// rxState is one peer's inbound audio timeline, shared by its receive
// goroutine and the filler under mu.
type rxState struct {
	mu sync.Mutex
	// deliver hands the session one or more frames of PCM16LE it then
	// owns, waiting for it; offer does not wait, and reports false when the
	// session is busy (session.Session.OfferAudio).
	deliver func(pcm []byte) error
	offer   func(pcm []byte) (bool, error)
	// lastAt is when the last packet arrived, lastSeq and lastTS its RTP
	// sequence number and timestamp; started once there was one.
	lastAt          time.Time
	lastSeq         uint16
	lastTS          uint32
	started, closed bool
	// quiet: the last frame given to the session was below quietPeak.
	quiet bool
	// filled counts silence frames given since lastAt.
	filled int
	// filledTotal counts every silence frame given (the handler's stats).
	filledTotal *atomic.Uint64
	// zeros is dtxMaxFillFrames of digital silence, shared read only (the
	// session only reads the audio it is given).
	zeros []byte
}

// packet records the arrival of one RTP packet before it is decoded. A
// packet that follows the previous one in sequence but not in time ends a
// DTX pause: the silence not yet filled for it is given first, so the
// session's timeline stays on the sender's clock. Caller holds mu.
func (r *rxState) packet(now time.Time, seq uint16, ts uint32) {
	if r.started && seq == r.lastSeq+1 {
		if gap := int32(ts-r.lastTS) / rtpTicksPerFrame; gap > 1 {
			r.fill(min(int(gap)-1, dtxMaxFillFrames) - r.filled)
		}
	}
	if !r.started || int16(seq-r.lastSeq) > 0 {
		r.lastSeq, r.lastTS = seq, ts
	}
	r.started, r.lastAt, r.filled = true, now, 0
}

// tick gives the silence owed at now when the packets have paused after
// a quiet frame. It never waits: when the receive goroutine holds the
// state (a packet is being delivered) or the session is busy, the frames
// stay owed until the next tick.
func (r *rxState) tick(now time.Time) {
	if !r.mu.TryLock() {
		return
	}
	defer r.mu.Unlock()
	if !r.started || r.closed || !r.quiet {
		return
	}
	owed := min(int(now.Sub(r.lastAt)/frameDuration), dtxMaxFillFrames)
	if owed < dtxHoldFrames || owed <= r.filled {
		return
	}
	n := owed - r.filled
	ok, err := r.offer(r.silence(n))
	switch {
	case err != nil:
		r.closed = true
	case ok:
		r.filled += n
		r.filledTotal.Add(uint64(n)) //nolint:gosec // n > 0.
	}
}

// fill gives n frames of silence in one hand-off, waiting for the session.
// Caller holds mu.
func (r *rxState) fill(n int) {
	if n <= 0 || r.closed {
		return
	}
	r.filled += n
	r.filledTotal.Add(uint64(n)) //nolint:gosec // n > 0.
	if r.deliver(r.silence(n)) != nil {
		r.closed = true
	}
}

// silence returns n frames of digital silence (n ≤ dtxMaxFillFrames).
func (r *rxState) silence(n int) []byte {
	if r.zeros == nil {
		r.zeros = make([]byte, dtxMaxFillFrames*audio.FrameBytes)
	}
	return r.zeros[:n*audio.FrameBytes]
}

// frame notes whether a decoded frame was quiet. Caller holds mu.
func (r *rxState) frame(pcm []int16) {
	peak := 0
	for _, s := range pcm {
		peak = max(peak, abs(int(s)))
	}
	r.quiet = peak < quietPeak
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// filler is the one goroutine that gives every receiving peer of a
// handler its DTX silence: one wake-up per 20 ms for all of them, rather
// than a timer per peer. It runs while at least one peer is receiving.
type filler struct {
	// zeros is the silence every peer's rxState shares.
	zeros []byte

	mu      sync.Mutex
	peers   map[*rxState]struct{}
	running bool
	batch   []*rxState
}

// add registers r; the filler starts if it was idle.
func (f *filler) add(r *rxState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.peers == nil {
		f.peers = map[*rxState]struct{}{}
	}
	if f.zeros == nil {
		f.zeros = make([]byte, dtxMaxFillFrames*audio.FrameBytes)
	}
	r.zeros = f.zeros
	f.peers[r] = struct{}{}
	if !f.running {
		f.running = true
		go f.run()
	}
}

// remove unregisters r; the filler stops within a frame once none is left.
func (f *filler) remove(r *rxState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.peers, r)
}

func (f *filler) run() {
	t := time.NewTicker(frameDuration)
	defer t.Stop()
	for now := range t.C {
		f.mu.Lock()
		if len(f.peers) == 0 {
			f.running = false
			f.mu.Unlock()
			return
		}
		f.batch = f.batch[:0]
		for r := range f.peers {
			f.batch = append(f.batch, r)
		}
		batch := f.batch
		f.mu.Unlock()
		for _, r := range batch {
			r.tick(now)
		}
	}
}

// withDTX adds usedtx=1 to the format parameters of every Opus payload
// type of an SDP (RFC 7587 §7: the receiver's preference) that does not
// say usedtx already; a payload type without an fmtp line gets one.
func withDTX(sdp string) string {
	var out strings.Builder
	out.Grow(len(sdp) + 2*len(";usedtx=1"))
	opus := map[string]bool{}
	hasFmtp := map[string]bool{}
	for line := range strings.Lines(sdp) {
		if pt, ok := rtpmapOpus(line); ok {
			opus[pt] = true
		}
		if pt, _, ok := fmtpOf(line); ok {
			hasFmtp[pt] = true
		}
	}
	for line := range strings.Lines(sdp) {
		body := strings.TrimRight(line, "\r\n")
		eol := line[len(body):]
		if pt, params, ok := fmtpOf(line); ok && opus[pt] && !strings.Contains(params, "usedtx=") {
			body += ";usedtx=1"
		}
		out.WriteString(body)
		out.WriteString(eol)
		if pt, ok := rtpmapOpus(line); ok && !hasFmtp[pt] {
			out.WriteString("a=fmtp:" + pt + " usedtx=1" + eol)
		}
	}
	return out.String()
}

// rtpmapOpus returns the payload type of an "a=rtpmap:<pt> opus/48000…" line.
func rtpmapOpus(line string) (string, bool) {
	rest, ok := strings.CutPrefix(line, "a=rtpmap:")
	if !ok {
		return "", false
	}
	pt, codec, ok := strings.Cut(rest, " ")
	return pt, ok && strings.HasPrefix(strings.ToLower(codec), "opus/")
}

// fmtpOf splits an "a=fmtp:<pt> <params>" line.
func fmtpOf(line string) (pt, params string, ok bool) {
	rest, ok := strings.CutPrefix(line, "a=fmtp:")
	if !ok {
		return "", "", false
	}
	pt, params, ok = strings.Cut(strings.TrimRight(rest, "\r\n"), " ")
	return pt, params, ok
}
