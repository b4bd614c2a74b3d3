package session

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/resilience"
)

// ttsPipe is the response's TTS stream with its receiver and pacer. It
// keeps all text sent, so that when the stream fails mid-reply — after its
// first audio, where the plugin host no longer replays — a new stream (the
// restarted plugin or the next in the chain) takes over at the span whose
// audio was arriving, its received audio skipped: nothing is said twice or
// left out (resumePoint).
type ttsPipe struct {
	cfg      sdk.TTSConfig
	recvDone chan error
	paceDone chan error
	sent     int

	mu     sync.Mutex
	stream sdk.TTSStream
	cancel context.CancelFunc
	text   strings.Builder
	closed bool
	// base is where the current stream's text starts in the response text.
	base       int
	recoveries int
}

// sendText sends text on the current stream. A failure is not reported:
// the receiver sees the stream fail and resumes with this text included.
func (p *ttsPipe) sendText(text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.text.WriteString(text)
	_ = p.stream.SendText(text)
}

// closeSend ends the text; like sendText, a failure shows on the receiver.
func (p *ttsPipe) closeSend() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	_ = p.stream.CloseSend()
}

// current returns the stream to receive from and its text base.
func (p *ttsPipe) current() (sdk.TTSStream, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stream, p.base
}

// stop cancels the current stream.
func (p *ttsPipe) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cancel()
}

// resume replaces the failed stream with one that speaks the text from
// byte from on, asking the TTS again (with a backoff) until the recovery
// bound passes. It fails with cause (and the last error) when it cannot.
func (r *response) resume(ctx context.Context, p *ttsPipe, from int, cause error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.recoveries++
	if p.recoveries > maxRecoveries || resilience.IsCallerError(cause) {
		return cause
	}
	r.s.log.Warn("tts stream failed mid-reply, resuming", "response_id", r.id, "from_byte", from, "error", cause)
	p.cancel()
	return r.reopenWithin(ctx, p, from, cause)
}

// reopenWithin asks the TTS (the restarted plugin or the next in the
// chain) for a stream that speaks the text from byte from on, with a
// backoff, until the recovery bound passes; it fails with cause and the
// last error when it cannot. Called with p.mu held.
func (r *response) reopenWithin(ctx context.Context, p *ttsPipe, from int, cause error) error {
	clk := r.s.m.clock
	start := clk.Now()
	deadline := start.Add(r.s.m.ttsRecover)
	backoff := sttRecoverBackoff
	for {
		err := p.reopen(ctx, r.s.plugins.TTS, from)
		if err == nil {
			r.s.log.Info("tts resumed", "response_id", r.id, "took", clk.Now().Sub(start).String())
			r.s.m.metrics.recoveries.WithLabelValues(kindTTS, outcomeRecovered).Inc()
			return nil
		}
		wake := clk.Now().Add(backoff)
		if ctx.Err() != nil || resilience.IsCallerError(err) || wake.After(deadline) {
			r.s.m.metrics.recoveries.WithLabelValues(kindTTS, outcomeFailed).Inc()
			return errors.Join(cause, err)
		}
		ch, stopTimer := clk.At(wake)
		select {
		case <-ch:
		case <-ctx.Done():
		}
		stopTimer()
		backoff = min(backoff*2, sttRecoverMaxBackoff)
	}
}

// reopen opens a stream and sends it the text from byte from on (and the
// end of the text if it came). Called with p.mu held.
func (p *ttsPipe) reopen(ctx context.Context, tts sdk.TTS, from int) error {
	sctx, cancel := context.WithCancel(ctx)
	s, err := tts.Synthesize(sctx, p.cfg)
	if err != nil {
		cancel()
		return err
	}
	if rest := p.text.String()[from:]; rest != "" {
		err = s.SendText(rest)
	}
	if err == nil && p.closed {
		err = s.CloseSend()
	}
	if err != nil {
		cancel()
		return replayFailed(err)
	}
	p.stream, p.cancel, p.base = s, cancel, from
	return nil
}

// resumePoint is where a failed TTS stream is resumed. The span whose
// audio was arriving (or had just arrived) is synthesized again from its
// start and the audio already received of it is skipped, so the sentence
// goes on where it was cut: neither said twice nor lost. Offsets are in
// the response text; byte counts are of the TTS's own audio.
type resumePoint struct {
	start, end int
	got        int
	skip       int
}

// take returns the part of chunk c (its span already in response offsets)
// that is new, and tracks its span.
func (p *resumePoint) take(c sdk.AudioChunk) []byte {
	pcm := c.PCM
	if c.TextEnd <= c.TextStart {
		return pcm
	}
	if c.TextStart == p.start && c.TextEnd == p.end && p.skip > 0 {
		n := min(p.skip, len(pcm))
		p.skip -= n
		pcm = pcm[n:]
	} else if c.TextStart != p.start || c.TextEnd != p.end {
		p.start, p.end, p.got, p.skip = c.TextStart, c.TextEnd, 0, 0
	}
	p.got += len(pcm)
	return pcm
}

// from returns where the new stream's text starts, and arms the skip of
// what was received of that span.
func (p *resumePoint) from() int {
	p.skip = p.got
	return p.start
}
