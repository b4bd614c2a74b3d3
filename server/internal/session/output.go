package session

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/clock"
)

// framesPerSecond is the number of 20 ms frames in a second.
const framesPerSecond = int(time.Second / audio.FrameDuration)

// pcmBytesPerSample is the size of one PCM16 sample.
const pcmBytesPerSample = 2

// audioSpan maps a stretch of a response's output audio to the bytes of
// response text it speaks.
type audioSpan struct {
	audioStart, audioEnd time.Duration
	textStart, textEnd   int
}

// pacedAudio is TTS audio already converted to the output rate.
type pacedAudio struct {
	pcm                []byte
	textStart, textEnd int
}

// output is one response's way to the client: every event and audio frame
// of the response goes through it, so that closing it (barge-in, cancel)
// stops the response's output at once — no frame or event of the response is
// sent after close returns. Its pacer sends audio at real time plus a small
// look-ahead, and it keeps what is needed to tell how much was played.
type output struct {
	clock      clock.Clock
	sink       Sink
	responseID string
	lookahead  time.Duration
	rate       int
	frameBytes int
	onSendErr  func(error)
	// onStart, if set, is called (without the lock) after the first frame.
	onStart func()

	mu      sync.Mutex
	closed  bool
	started bool
	// paused: frames are dropped (the pipeline runs on, faster than real
	// time) and events held until resume or close; pausedAt is the
	// played position when it paused.
	paused   bool
	pausedAt time.Duration
	held     []Event
	// reported: the played position is what the client reports (heard),
	// not the estimate from what was sent.
	reported  bool
	heard     time.Duration
	marked    int // spans whose AudioMark was sent
	sent      time.Duration
	queuedEnd time.Time
	firstSent time.Time
	received  time.Duration
	spans     []audioSpan
}

func newOutput(clk clock.Clock, sink Sink, lookahead time.Duration, rate int, responseID string, onSendErr func(error)) *output {
	return &output{
		clock: clk, sink: sink, responseID: responseID, lookahead: lookahead, rate: rate,
		frameBytes: rate / framesPerSecond * pcmBytesPerSample, onSendErr: onSendErr,
	}
}

// emit sends an event of the response unless the output is closed.
func (o *output) emit(ev Event) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return false
	}
	if o.paused {
		o.held = append(o.held, ev)
		return true
	}
	if err := o.sink.Event(ev); err != nil {
		o.onSendErr(err)
		return false
	}
	return true
}

// pause stops the audio at once and returns how much the client has
// played (as close does); the pacer goes on without sending.
func (o *output) pause() time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.reported {
		o.pausedAt = min(o.heard, o.sent)
	} else {
		o.pausedAt = o.playedLocked(o.clock.Now())
	}
	o.paused = true
	return o.pausedAt
}

// resume ends a pause: the audio timeline goes back to where playback
// stopped (the spans after it are forgotten; the one being spoken ends
// at byte cut of the text, where the new audio's text starts), ev is
// sent, then the events held while paused. False if the output is closed.
func (o *output) resume(cut int, ev Event) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed || !o.paused {
		return false
	}
	at := o.pausedAt
	keep := o.spans[:0]
	for _, sp := range o.spans {
		if sp.audioStart >= at {
			continue
		}
		if sp.audioEnd > at {
			sp.audioEnd, sp.textEnd = at, min(sp.textEnd, cut)
			if sp.textEnd <= sp.textStart {
				continue
			}
		}
		keep = append(keep, sp)
	}
	o.spans, o.marked = keep, len(keep)
	o.sent, o.received, o.heard = at, at, min(o.heard, at)
	o.queuedEnd = o.clock.Now()
	o.paused, o.started = false, false
	held := o.held
	o.held = nil
	for _, e := range append([]Event{ev}, held...) {
		if err := o.sink.Event(e); err != nil {
			o.onSendErr(err)
			return false
		}
	}
	return true
}

// close stops all further output and returns how much audio the client has
// played by now: what it reported (see trustReports), or else sent audio
// minus what is still queued ahead of playback.
func (o *output) close() time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
	o.held = nil
	switch {
	case o.paused:
		return o.pausedAt
	case o.reported:
		return min(o.heard, o.sent)
	}
	return o.playedLocked(o.clock.Now())
}

// reportPlayed records that the client has heard the audio up to at.
func (o *output) reportPlayed(at time.Duration) {
	o.mu.Lock()
	o.heard = max(o.heard, at)
	o.mu.Unlock()
}

// trustReports makes close use the reported position.
func (o *output) trustReports() {
	o.mu.Lock()
	o.reported = true
	o.mu.Unlock()
}

// playedLocked is the client's playback position under the model that
// the client plays frames back to back as they arrive.
func (o *output) playedLocked(now time.Time) time.Duration {
	ahead := o.queuedEnd.Sub(now)
	if ahead < 0 || o.queuedEnd.IsZero() {
		ahead = 0
	}
	return o.sent - ahead
}

// stats returns the sent duration and the time the first frame was sent.
func (o *output) stats() (sent time.Duration, first time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.sent, o.firstSent
}

// addSpan records the text span of audio handed to the pacer.
func (o *output) addSpan(a pacedAudio) {
	d := pcmDuration(len(a.pcm), o.rate)
	o.mu.Lock()
	defer o.mu.Unlock()
	if a.textEnd > a.textStart {
		o.spans = append(o.spans, audioSpan{audioStart: o.received, audioEnd: o.received + d, textStart: a.textStart, textEnd: a.textEnd})
	}
	o.received += d
}

// textPlayed returns the prefix of text spoken by the first played of
// audio. A partly played span counts up to the last whole word.
func (o *output) textPlayed(text string, played time.Duration) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	cut := 0
	for _, s := range o.spans {
		end := min(s.textEnd, len(text))
		switch {
		case s.audioEnd <= played:
			cut = max(cut, end)
		case s.audioStart < played && end > s.textStart:
			frac := float64(played-s.audioStart) / float64(s.audioEnd-s.audioStart)
			part := s.textStart + int(frac*float64(end-s.textStart))
			// Back up to the end of the last word passed entirely (with
			// the space after it): a word being spoken is not counted.
			for part > s.textStart && !isSpace(text[part-1]) {
				part--
			}
			cut = max(cut, part)
		}
	}
	if len(o.spans) == 0 && o.received > 0 {
		// The TTS gave no text spans: estimate by proportion.
		cut = int(float64(len(text)) * min(1, float64(played)/float64(o.received)))
		for cut > 0 && cut < len(text) && !isSpace(text[cut-1]) {
			cut--
		}
	}
	return strings.TrimRight(text[:cut], " \t\r\n")
}

// sendFrame sends one frame (taking ownership) unless the output is closed.
func (o *output) sendFrame(frame []byte) bool {
	first := false
	ok := o.sendFrameLocked(frame, &first)
	if first && ok && o.onStart != nil {
		o.onStart()
	}
	return ok
}

func (o *output) sendFrameLocked(frame []byte, first *bool) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return false
	}
	if o.paused {
		return true // dropped: the reply resumes from its text, re-synthesised
	}
	if !o.started {
		o.started = true
		*first = true
		if err := o.sink.Event(AudioStarted{ResponseID: o.responseID, SampleRate: o.rate}); err != nil {
			o.onSendErr(err)
			return false
		}
	}
	now := o.clock.Now()
	if o.queuedEnd.Before(now) {
		o.queuedEnd = now
	}
	o.queuedEnd = o.queuedEnd.Add(audio.FrameDuration)
	o.sent += audio.FrameDuration
	if o.firstSent.IsZero() {
		o.firstSent = now
	}
	if err := o.sink.Audio(frame); err != nil {
		o.onSendErr(err)
		return false
	}
	// Every span whose audio is now all out gets its mark, in order.
	for ; o.marked < len(o.spans) && o.spans[o.marked].audioEnd <= o.sent; o.marked++ {
		if err := o.sink.Event(AudioMark{ResponseID: o.responseID, End: o.spans[o.marked].audioEnd}); err != nil {
			o.onSendErr(err)
			return false
		}
	}
	return true
}

// sendAt returns when the next frame may be sent: at once while less than
// the look-ahead is queued ahead of playback.
func (o *output) sendAt() time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.paused {
		return time.Time{} // nothing is sent: no need to wait
	}
	return o.queuedEnd.Add(audio.FrameDuration - max(o.lookahead, audio.FrameDuration))
}

// pace sends the audio arriving on in, frame by frame at real time plus the
// look-ahead, until in is closed (nil) or ctx ends or the output is closed.
func (o *output) pace(ctx context.Context, in <-chan pacedAudio) error {
	var pending []byte
	open := true
	for {
		for len(pending) < o.frameBytes && open {
			select {
			case a, ok := <-in:
				if !ok {
					open = false
					break
				}
				o.addSpan(a)
				pending = append(pending, a.pcm...)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if len(pending) == 0 {
			return nil
		}
		frame := make([]byte, o.frameBytes)
		n := copy(frame, pending) // a short last frame is padded with silence
		pending = pending[n:]
		if at := o.sendAt(); at.After(o.clock.Now()) {
			ch, stop := o.clock.At(at)
			select {
			case <-ch:
				stop()
			case <-ctx.Done():
				stop()
				return ctx.Err()
			}
		}
		if !o.sendFrame(frame) {
			return context.Canceled
		}
	}
}

// pcmDuration is the duration of n bytes of PCM16 mono at rate.
func pcmDuration(n, rate int) time.Duration {
	return time.Duration(n/pcmBytesPerSample) * time.Second / time.Duration(rate)
}
