package session

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/resilience"
)

// STT recovery: how much of an utterance is kept for a replay, and how
// often a replacement stream is asked for while the recognizer is down.
const (
	// sttReplayFrames is 60 s of audio; a longer utterance is not replayed.
	sttReplayFrames      = 3000
	sttRecoverBackoff    = 50 * time.Millisecond
	sttRecoverMaxBackoff = 400 * time.Millisecond
	// maxRecoveries bounds the streams replaced in one utterance or reply:
	// a plugin that keeps failing right after it took over is given up on.
	maxRecoveries = 3
)

// Recovery outcomes (metric label values) and plugin kinds.
const (
	outcomeRecovered = "recovered"
	outcomeFailed    = "failed"
	kindSTT          = "stt"
	kindTTS          = "tts"
)

// sttFeed owns one utterance's STT streams. It keeps the utterance's
// audio; when the stream fails mid-utterance — after partials or finals,
// where the plugin host no longer replays — it opens a new one (the
// restarted plugin or the next in the chain), replays the whole utterance
// into it and continues live. The failed stream's events are dropped
// (onTranscript counts only the current attempt), so the words are
// recognised once. Only when no stream can be had within
// Manager.sttRecover does the utterance fail.
type sttFeed struct {
	s   *Session
	u   *utterance
	cfg sdk.STTConfig
	// in is the utterance's audio queue; nil once it was closed.
	in       <-chan []byte
	kept     [][]byte
	overflow bool
	closed   bool

	attempt    int
	recoveries int
	stream     sdk.STTStream
	cancel     context.CancelFunc
	end        chan error
}

func (f *sttFeed) run(ctx context.Context) {
	defer func() {
		if f.cancel != nil {
			f.cancel()
		}
	}()
	if err := f.open(ctx); err != nil {
		// The plugin host already retried and fell back before any output.
		// Every recognizer down right now (restarting after a crash) is
		// waited for like a stream that failed, keeping the audio.
		if sdk.CodeOf(err) != sdk.CodeUnavailable {
			f.fail(err)
			return
		}
		if !f.recover(ctx, err) {
			return
		}
	}
	for {
		var err error
		select {
		case b, ok := <-f.in:
			if !ok {
				f.in, f.closed = nil, true
				if err = f.stream.CloseSend(); err != nil {
					if err = f.sendFailed(ctx, err); err == nil {
						return
					}
				}
				break
			}
			f.keep(b)
			if err = f.stream.SendAudio(b); err != nil {
				if err = f.sendFailed(ctx, err); err == nil {
					return
				}
			}
		case err = <-f.end:
			if err == nil {
				return // the stream ended; its EOF went to the session
			}
		case <-ctx.Done():
			return
		}
		if err != nil && !f.recover(ctx, err) {
			return
		}
	}
}

// sendFailed turns a failed send into the stream's own status: a send on
// a broken stream says only that it ended ("Recv returns its status"),
// while the receiver gets the real cause. It returns nil when the stream
// ended normally meanwhile (its end went to the session).
func (f *sttFeed) sendFailed(ctx context.Context, err error) error {
	select {
	case rerr := <-f.end:
		return rerr
	case <-ctx.Done():
		return err
	}
}

// open starts a new attempt: a stream, the kept audio replayed into it,
// the end of input if it came, and its receiver.
func (f *sttFeed) open(ctx context.Context) error {
	sctx, cancel := context.WithCancel(ctx)
	stream, err := f.s.plugins.STT.Transcribe(sctx, f.cfg)
	if err != nil {
		cancel()
		return err
	}
	for _, b := range f.kept {
		if err = stream.SendAudio(b); err != nil {
			break
		}
	}
	if err == nil && f.closed {
		err = stream.CloseSend()
	}
	if err != nil {
		cancel()
		return replayFailed(err)
	}
	if f.cancel != nil {
		f.cancel()
	}
	f.attempt++
	f.stream, f.cancel, f.end = stream, cancel, make(chan error, 1)
	if f.attempt > 1 {
		u, n := f.u, f.attempt
		f.s.postAsync(func(context.Context) {
			u.attempt, u.finals, u.lastFinal = n, nil, time.Time{}
		})
	}
	f.s.wg.Add(1)
	go f.receive(f.attempt, stream, f.end)
	return nil
}

// receive passes the attempt's events to the session. A failure goes to
// end instead, for run to recover from; the end of the stream goes both.
func (f *sttFeed) receive(attempt int, stream sdk.STTStream, end chan<- error) {
	defer f.s.wg.Done()
	u := f.u
	for {
		ev, err := stream.Recv()
		if err != nil && !errors.Is(err, io.EOF) {
			end <- err
			return
		}
		f.s.postAsync(func(ctx context.Context) { f.s.onTranscript(ctx, u, attempt, ev, err) })
		if err != nil {
			end <- nil
			return
		}
	}
}

// keep records a frame for a replay.
func (f *sttFeed) keep(b []byte) {
	if f.overflow {
		return
	}
	if len(f.kept) >= sttReplayFrames {
		f.overflow, f.kept = true, nil
		return
	}
	f.kept = append(f.kept, b)
}

// recover replaces the failed stream, waiting for a recognizer (while the
// user's audio keeps being kept) up to the recovery bound. It reports
// whether the utterance goes on.
func (f *sttFeed) recover(ctx context.Context, cause error) bool {
	if ctx.Err() != nil {
		return false
	}
	f.recoveries++
	if f.overflow || f.recoveries > maxRecoveries || resilience.IsCallerError(cause) {
		f.fail(cause)
		return false
	}
	if f.attempt == 0 {
		f.s.log.Warn("no stt available at the start of an utterance, waiting for one", "error", cause)
	} else {
		f.s.log.Warn("stt stream failed mid-utterance, recovering", "attempt", f.attempt, "error", cause)
	}
	if f.cancel != nil {
		f.cancel()
	}
	clk := f.s.m.clock
	start := clk.Now()
	deadline := start.Add(f.s.m.sttRecover)
	backoff := sttRecoverBackoff
	for {
		err := f.open(ctx)
		if err == nil {
			f.s.log.Info("stt recovered", "attempt", f.attempt, "took", clk.Now().Sub(start).String())
			f.s.m.metrics.recoveries.WithLabelValues(kindSTT, outcomeRecovered).Inc()
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		wake := clk.Now().Add(backoff)
		if resilience.IsCallerError(err) || wake.After(deadline) {
			f.s.m.metrics.recoveries.WithLabelValues(kindSTT, outcomeFailed).Inc()
			f.fail(errors.Join(cause, err))
			return false
		}
		if !f.wait(ctx, wake) {
			return false
		}
		backoff = min(backoff*2, sttRecoverMaxBackoff)
	}
}

// wait waits until at, keeping the audio that arrives meanwhile.
func (f *sttFeed) wait(ctx context.Context, at time.Time) bool {
	ch, stop := f.s.m.clock.At(at)
	defer stop()
	for {
		select {
		case <-ch:
			return true
		case b, ok := <-f.in:
			if !ok {
				f.in, f.closed = nil, true
				continue
			}
			f.keep(b)
		case <-ctx.Done():
			return false
		}
	}
}

// fail ends the utterance with err (on the session goroutine).
func (f *sttFeed) fail(err error) {
	u, n := f.u, f.attempt
	f.s.postAsync(func(ctx context.Context) {
		u.attempt = n
		f.s.onTranscript(ctx, u, n, sdk.TranscriptEvent{}, err)
	})
}

// replayFailed is the error of a new stream that broke while the kept
// input was replayed into it: the plugin is still unwell, which is worth
// another try (a send's own error reads like the caller's fault).
func replayFailed(err error) error {
	return &sdk.Error{Code: sdk.CodeUnavailable, Message: "stream broke during replay", Err: err}
}
