package sdk

import (
	"context"
	"errors"
	"io"
	"sync"
)

// GenerateFunc produces a generation by calling emit for each event. It
// returns nil after emitting Done, or the error that ended it.
type GenerateFunc func(ctx context.Context, emit func(GenerateEvent) error) error

// NewLLMStream runs fn in its own goroutine and returns its events as an
// LLMStream. It is the easy way for a vendor to implement LLM.Generate: the
// goroutine ends when fn returns, and fn's emit fails once ctx is done.
func NewLLMStream(ctx context.Context, fn GenerateFunc) LLMStream {
	p := newPipe[GenerateEvent](ctx)
	go p.run(func(ctx context.Context) error { return fn(ctx, p.emit) })
	return p
}

// pipe carries values from a producer goroutine to Recv.
type pipe[T any] struct {
	ctx  context.Context //nolint:containedctx // the pipe lives exactly as long as this context's stream.
	ch   chan T
	done chan struct{}
	err  error
}

func newPipe[T any](ctx context.Context) *pipe[T] {
	return &pipe[T]{ctx: ctx, ch: make(chan T), done: make(chan struct{})}
}

func (p *pipe[T]) run(fn func(ctx context.Context) error) {
	err := fn(p.ctx)
	if err == nil {
		err = io.EOF
	}
	p.err = err
	close(p.done)
}

func (p *pipe[T]) emit(v T) error {
	select {
	case p.ch <- v:
		return nil
	case <-p.ctx.Done():
		return p.ctx.Err()
	}
}

// Recv returns the next value, the producer's error, or io.EOF. Once ctx
// is done a producer that returned nil reads as ctx.Err(), never io.EOF:
// a cancelled stream must not look complete.
func (p *pipe[T]) Recv() (T, error) {
	var zero T
	select {
	case v := <-p.ch:
		return v, nil
	case <-p.done:
		return zero, p.endErr()
	case <-p.ctx.Done():
		<-p.done
		return zero, p.endErr()
	}
}

func (p *pipe[T]) endErr() error {
	if errors.Is(p.err, io.EOF) && p.ctx.Err() != nil {
		return p.ctx.Err()
	}
	return p.err
}

// STTInput is one input of a recognition stream handed to a TranscribeFunc:
// either Audio (PCM in the stream's format) or a Flush marker.
type STTInput struct {
	Audio []byte
	Flush bool
}

// TranscribeFunc runs one recognition stream. It reads inputs from in until
// in is closed, emits transcripts, and returns nil when done or the error
// that ended it. in is closed when the host calls CloseSend (pending audio
// must then be finalized) or when ctx is done (emit then fails and fn
// should return ctx.Err()), so ranging over in never hangs.
type TranscribeFunc func(ctx context.Context, in <-chan STTInput, emit func(TranscriptEvent) error) error

// NewSTTStream runs fn in its own goroutine and returns an STTStream that
// feeds it: SendAudio and Flush deliver inputs on in (SendAudio copies the
// audio, so callers may reuse their buffer), CloseSend closes in, and Recv
// returns what fn emits, then io.EOF once fn returned nil. It is the easy
// way to implement STT.Transcribe:
//
//	func (p *plugin) Transcribe(ctx context.Context, cfg sdk.STTConfig) (sdk.STTStream, error) {
//		return sdk.NewSTTStream(ctx, func(ctx context.Context, in <-chan sdk.STTInput, emit func(sdk.TranscriptEvent) error) error {
//			for msg := range in {
//				// feed msg.Audio to the recognizer; on msg.Flush emit a final transcript
//			}
//			return nil // in closed: the host called CloseSend
//		}), nil
//	}
//
// The goroutine ends when fn returns; sends after that, after CloseSend or
// once ctx is done fail instead of blocking.
func NewSTTStream(ctx context.Context, fn TranscribeFunc) STTStream {
	return sttFuncStream{newDuplex(ctx, fn)}
}

type sttFuncStream struct {
	*duplex[STTInput, TranscriptEvent]
}

// SendAudio implements STTStream.
func (s sttFuncStream) SendAudio(pcm []byte) error {
	return s.send(STTInput{Audio: append([]byte(nil), pcm...)})
}

// Flush implements STTStream.
func (s sttFuncStream) Flush() error { return s.send(STTInput{Flush: true}) }

// TTSInput is one input of a synthesis stream handed to a SynthesizeFunc:
// either Text (appended to all text before it) or a Flush marker.
type TTSInput struct {
	Text  string
	Flush bool
}

// SynthesizeFunc runs one synthesis stream. It reads inputs from in until
// in is closed, emits audio chunks as soon as they are ready, and returns
// nil when done or the error that ended it. in is closed when the host
// calls CloseSend (pending text must then be spoken) or when ctx is done
// (emit then fails and fn should return ctx.Err()).
type SynthesizeFunc func(ctx context.Context, in <-chan TTSInput, emit func(AudioChunk) error) error

// NewTTSStream runs fn in its own goroutine and returns a TTSStream that
// feeds it, like NewSTTStream: SendText and Flush deliver inputs on in,
// CloseSend closes in, Recv returns what fn emits, then io.EOF once fn
// returned nil.
func NewTTSStream(ctx context.Context, fn SynthesizeFunc) TTSStream {
	return ttsFuncStream{newDuplex(ctx, fn)}
}

type ttsFuncStream struct {
	*duplex[TTSInput, AudioChunk]
}

// SendText implements TTSStream.
func (s ttsFuncStream) SendText(text string) error { return s.send(TTSInput{Text: text}) }

// Flush implements TTSStream.
func (s ttsFuncStream) Flush() error { return s.send(TTSInput{Flush: true}) }

// duplex feeds inputs to a producer goroutine and hands its outputs to Recv.
// The input channel is closed by CloseSend or, so that a producer ranging
// over it always returns, when ctx is done; mu keeps sends and that close
// apart.
type duplex[I, O any] struct {
	*pipe[O]
	mu     sync.Mutex
	in     chan I
	closed bool
}

func newDuplex[I, O any](ctx context.Context, fn func(context.Context, <-chan I, func(O) error) error) *duplex[I, O] {
	d := &duplex[I, O]{pipe: newPipe[O](ctx), in: make(chan I)}
	stop := context.AfterFunc(ctx, d.closeIn)
	go d.run(func(ctx context.Context) error {
		defer stop()
		return fn(ctx, d.in, d.emit)
	})
	return d
}

// send delivers one input, or fails once the input was closed, the
// producer ended or ctx is done.
func (d *duplex[I, O]) send(v I) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		if err := d.ctx.Err(); err != nil {
			return err
		}
		return &Error{Code: CodeFailedPrecondition, Message: "send after CloseSend"}
	}
	select {
	case d.in <- v:
		return nil
	case <-d.done:
		err := d.endErr()
		if errors.Is(err, io.EOF) {
			return &Error{Code: CodeFailedPrecondition, Message: "stream already ended"}
		}
		return err
	case <-d.ctx.Done():
		return d.ctx.Err()
	}
}

// CloseSend closes the input channel; calling it again does nothing.
func (d *duplex[I, O]) CloseSend() error {
	d.closeIn()
	return nil
}

func (d *duplex[I, O]) closeIn() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.closed {
		d.closed = true
		close(d.in)
	}
}
