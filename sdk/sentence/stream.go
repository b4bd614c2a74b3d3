package sentence

import (
	"context"
	"errors"
	"io"

	"github.com/parleyhq/parley/sdk"
)

// queueSentences bounds how many sentences wait for synthesis before
// SendText blocks.
const queueSentences = 32

// ErrClosed is in the chain of the FailedPrecondition error that SendText
// and Flush return after CloseSend.
var ErrClosed = errors.New("stream closed for sending")

// SpeakFunc synthesizes one sentence and passes its audio (PCM16 little
// endian at the stream's sample rate) to emit as it arrives. emit takes
// ownership of pcm and fails once the stream's context is done; speak
// should then return that error.
type SpeakFunc func(ctx context.Context, s Span, emit func(pcm []byte) error) error

// Stream is an sdk.TTSStream for engines that synthesize one sentence at
// a time (typically one HTTP request each): SendText cuts text into
// sentences on the caller's goroutine, and one worker goroutine speaks
// them in order, one at a time, so audio is always in text order. Every
// chunk carries the span of its sentence.
type Stream struct {
	ctx        context.Context //nolint:containedctx // the stream lives exactly as long as this context.
	name       string
	sampleRate int
	speak      SpeakFunc

	split  Splitter
	jobs   chan Span
	out    chan sdk.AudioChunk
	done   chan struct{}
	err    error // set before done is closed
	closed bool
}

var _ sdk.TTSStream = (*Stream)(nil)

// NewStream starts a stream that speaks with speak until CloseSend was
// called and all text is spoken, a sentence fails, or ctx is done; the
// worker goroutine ends then. name (the provider or plugin) prefixes error
// messages; sampleRate is stamped on every chunk.
func NewStream(ctx context.Context, name string, sampleRate int, speak SpeakFunc) *Stream {
	s := &Stream{
		ctx:        ctx,
		name:       name,
		sampleRate: sampleRate,
		speak:      speak,
		jobs:       make(chan Span, queueSentences),
		out:        make(chan sdk.AudioChunk),
		done:       make(chan struct{}),
	}
	go s.run()
	return s
}

// SendText appends text; complete sentences are queued for synthesis. It
// blocks while the queue is full.
func (s *Stream) SendText(text string) error {
	if s.closed {
		return s.closedError()
	}
	return s.enqueue(s.split.Add(text))
}

// Flush queues any pending text as a sentence.
func (s *Stream) Flush() error {
	if s.closed {
		return s.closedError()
	}
	return s.enqueue(s.split.Flush())
}

// CloseSend queues pending text and ends input.
func (s *Stream) CloseSend() error {
	if s.closed {
		return nil
	}
	err := s.enqueue(s.split.Flush())
	s.closed = true
	close(s.jobs)
	return err
}

// Recv returns the next audio chunk, or io.EOF after the last one.
func (s *Stream) Recv() (sdk.AudioChunk, error) {
	select {
	case c := <-s.out:
		return c, nil
	case <-s.done:
		return sdk.AudioChunk{}, s.err
	}
}

// enqueue queues spans for the worker. Once the worker has ended, text is
// refused with the error that ended it rather than queued for nobody.
func (s *Stream) enqueue(spans []Span) error {
	for _, sn := range spans {
		select {
		case <-s.done:
			return s.endError()
		default:
		}
		select {
		case s.jobs <- sn:
		case <-s.done:
			return s.endError()
		case <-s.ctx.Done():
			return s.ctxError()
		}
	}
	return nil
}

// endError is what input gets after the worker ended.
func (s *Stream) endError() error {
	if errors.Is(s.err, io.EOF) {
		return s.closedError()
	}
	return s.err
}

// run speaks queued sentences until input ends, the context is done or a
// sentence fails.
func (s *Stream) run() {
	defer close(s.done)
	for {
		select {
		case sn, ok := <-s.jobs:
			switch {
			case s.ctx.Err() != nil:
				// A cancelled stream must not look complete.
				s.err = s.ctxError()
				return
			case !ok:
				s.err = io.EOF
				return
			}
			if err := s.speak(s.ctx, sn, func(pcm []byte) error { return s.emit(sn, pcm) }); err != nil {
				s.err = err
				return
			}
		case <-s.ctx.Done():
			s.err = s.ctxError()
			return
		}
	}
}

// emit hands one chunk of sentence sn to Recv.
func (s *Stream) emit(sn Span, pcm []byte) error {
	if len(pcm) == 0 {
		return nil
	}
	chunk := sdk.AudioChunk{PCM: pcm, SampleRate: s.sampleRate, TextStart: sn.Start, TextEnd: sn.End}
	select {
	case s.out <- chunk:
		return nil
	case <-s.ctx.Done():
		return s.ctxError()
	}
}

func (s *Stream) closedError() error {
	return &sdk.Error{Code: sdk.CodeFailedPrecondition, Message: s.name + ": text after CloseSend", Err: ErrClosed}
}

// ctxError reports the end of the stream's context as Canceled or
// DeadlineExceeded.
func (s *Stream) ctxError() error {
	err := s.ctx.Err()
	return &sdk.Error{Code: sdk.CodeOf(err), Message: s.name + ": " + err.Error(), Err: err}
}
